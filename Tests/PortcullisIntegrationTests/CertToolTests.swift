import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// `portcullis cert ...` through the real binary: `openssl` accepts what it writes, and the proxy runs a
    /// mutual-TLS gate with it.
    @Suite struct CertTool {
        private let directory: URL = {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-certtool-\(UUID().uuidString)")
            try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            return url
        }()

        private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

        @discardableResult
        private func cert(_ arguments: [String], expectSuccess: Bool = true) throws -> Run.Result {
            let result = try Run.command(BinaryLocator.portcullis.path, ["cert"] + arguments, currentDirectory: directory, timeout: 60)
            if expectSuccess {
                #expect(result.status == 0, "portcullis cert \(arguments.joined(separator: " ")): \(result.stdout)\(result.stderr)")
            }
            return result
        }

        private func openssl(_ arguments: [String]) throws -> Run.Result {
            try Run.command("/usr/bin/openssl", arguments, currentDirectory: directory, timeout: 30)
        }

        private func mode(_ file: String) -> mode_t {
            var info = stat()
            return stat(path(file), &info) == 0 ? info.st_mode & 0o777 : 0
        }

        /// dev-ca, dev-server and dev-client: the whole mutual-TLS setup.
        private func makeDevPKI() throws {
            try cert(["dev-ca", "--out", "pki"])
            try cert(["dev-server", "localhost", "127.0.0.1", "*.dev.example.com", "--ca", "pki", "--out", "pki"])
            try cert(["dev-client", "alice", "--uri", "spiffe://example.org/alice", "--ou", "gate", "--ca", "pki", "--out", "pki"])
            try cert(["dev-client", "mallory", "--uri", "spiffe://example.org/mallory", "--key-type", "rsa", "--ca", "pki", "--out", "pki"])
        }

        @Test func openSSLAcceptsTheDevelopmentPKI() throws {
            try makeDevPKI()
            for (file, purpose) in [("pki/localhost.pem", "sslserver"), ("pki/alice.pem", "sslclient"), ("pki/mallory.pem", "sslclient")] {
                let verified = try openssl(["verify", "-CAfile", "pki/ca.pem", "-purpose", purpose, file])
                #expect(verified.status == 0 && verified.stdout.contains("\(file): OK"), "\(verified.stdout)\(verified.stderr)")
            }
            // A server certificate is not a client certificate, and the reverse.
            #expect(try openssl(["verify", "-CAfile", "pki/ca.pem", "-purpose", "sslclient", "pki/localhost.pem"]).status != 0)
            #expect(try openssl(["verify", "-CAfile", "pki/ca.pem", "-purpose", "sslserver", "pki/alice.pem"]).status != 0)

            let server = try openssl(["x509", "-noout", "-text", "-in", "pki/localhost.pem"]).stdout
            #expect(server.contains("DNS:localhost, IP Address:127.0.0.1, DNS:*.dev.example.com"), "\(server)")
            #expect(server.contains("TLS Web Server Authentication") && server.contains("CA:FALSE"), "\(server)")
            let client = try openssl(["x509", "-noout", "-text", "-in", "pki/alice.pem"]).stdout
            #expect(client.contains("URI:spiffe://example.org/alice") && client.contains("TLS Web Client Authentication"), "\(client)")
            #expect(client.contains("Subject: OU = gate, CN = alice"), "\(client)")
            let ca = try openssl(["x509", "-noout", "-text", "-in", "pki/ca.pem"]).stdout
            #expect(ca.contains("CA:TRUE, pathlen:0") && ca.contains("Certificate Sign"), "\(ca)")
            #expect(try openssl(["x509", "-noout", "-text", "-in", "pki/mallory.pem"]).stdout.contains("Public-Key: (2048 bit)"))

            for key in ["pki/ca.key", "pki/localhost.key", "pki/alice.key", "pki/mallory.key"] {
                #expect(mode(key) == 0o600, "\(key) has mode \(String(mode(key), radix: 8))")
                #expect(try openssl(["pkey", "-noout", "-in", key]).status == 0, "\(key) is not a key openssl reads")
            }
            #expect(mode("pki/localhost.pem") & 0o600 == 0o600)

            // Nothing is overwritten without --force.
            let again = try cert(["dev-client", "alice", "--ca", "pki", "--out", "pki"], expectSuccess: false)
            #expect(again.status == 1 && again.stderr.contains("already exists") && again.stderr.contains("--force"), "\(again.stderr)")
            try cert(["dev-client", "alice", "--uri", "spiffe://example.org/alice", "--ca", "pki", "--out", "pki", "--force"])
            #expect(mode("pki/alice.key") == 0o600)
        }

        @Test func theProxyAdmitsTheDevClientInAnMTLSHandshake() throws {
            try makeDevPKI()
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            var host = ProxyConfigBuilder.Host(name: "gate", names: ["localhost"],
                                               certificates: [(path("pki/localhost.pem"), path("pki/localhost.key"))],
                                               backends: ["127.0.0.1:\(backend.port)"])
            host.extra["client_verify"] = tomlString("require")
            host.extra["client_ca_file"] = tomlString(path("pki/ca.pem"))
            host.extra["allow_uri"] = tomlArray(["spiffe://example.org/alice"])
            var config = ProxyConfigBuilder()
            config.hosts = [host]
            config.listeners = [.init(name: "gate", port: port, hosts: ["gate"], defaultHost: "gate")]
            try config.toml.write(toFile: path("gate.toml"), atomically: true, encoding: .utf8)
            let check = try Run.command(BinaryLocator.portcullis.path, ["check", "--config", path("gate.toml")], timeout: 30)
            #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
            let proxy = try ProxyProcess(config: config.toml, waitForPorts: [port])
            defer { proxy.stop() }

            func attempt(_ client: String?) throws -> PythonTLSClient.Outcome {
                try PythonTLSClient.run(.init(
                    port: port, sni: "localhost", caFile: path("pki/ca.pem"), certFile: client.map { path("pki/\($0).pem") },
                    keyFile: client.map { path("pki/\($0).key") }, sendText: "through the gate", timeout: 10))[0]
            }
            // The client verifies the dev server certificate against the dev CA, the proxy the dev client's.
            let alice = try attempt("alice")
            #expect(alice.ok && alice.received_text == "through the gate", "\(alice.error ?? "")\n\(proxy.log)")
            #expect(alice.peer_subject_cn == "localhost")
            for refused in [nil, "mallory"] as [String?] {
                let outcome = try attempt(refused)
                #expect(outcome.received_text != "through the gate", "\(refused ?? "no certificate") got through")
            }
            #expect(backend.connections.filter { !$0.isEmpty }.count == 1, "only alice reached the backend")
            #expect(proxy.waitForLog("client_subject=\"/OU=gate/CN=alice\""), "\(proxy.log)")
        }

        @Test func inspectCSRAndPKCS12WorkWithOpenSSL() throws {
            try makeDevPKI()
            // PKCS#12: openssl reads it with the password; inspect shows its contents.
            try cert(["pkcs12", "--cert", "pki/alice.pem", "--key", "pki/alice.key", "--ca", "pki/ca.pem", "--out", "alice.p12",
                      "--password", "correct horse", "--name", "alice"])
            #expect(mode("alice.p12") == 0o600)
            let info = try openssl(["pkcs12", "-in", "alice.p12", "-passin", "pass:correct horse", "-nokeys", "-clcerts"])
            #expect(info.status == 0 && info.stdout.contains("subject=OU = gate, CN = alice"), "\(info.stdout)\(info.stderr)")
            let p12 = try cert(["inspect", "alice.p12", "--password", "correct horse"])
            #expect(p12.stdout.contains("PKCS#12") && p12.stdout.contains("URI:spiffe://example.org/alice")
                    && p12.stdout.contains("yes, the key belongs to the certificate") && p12.stdout.contains("CA certificate 1"), "\(p12.stdout)")
            let locked = try cert(["inspect", "alice.p12"], expectSuccess: false)
            #expect(locked.status == 1 && locked.stderr.contains("--password"), "\(locked.stderr)")
            let wrong = try cert(["inspect", "alice.p12", "--password", "wrong"], expectSuccess: false)
            #expect(wrong.status == 1 && wrong.stderr.contains("wrong password"), "\(wrong.stderr)")

            // PEM and DER certificates: the same facts openssl prints.
            let pem = try cert(["inspect", "pki/localhost.pem"]).stdout
            let fingerprint = try openssl(["x509", "-noout", "-fingerprint", "-sha256", "-in", "pki/localhost.pem"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines).components(separatedBy: "=").last ?? "?"
            #expect(pem.contains(fingerprint), "\(pem) should show \(fingerprint)")
            let serial = try openssl(["x509", "-noout", "-serial", "-in", "pki/localhost.pem"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")
            let shownSerial = serial.drop { $0 == "0" }
            #expect(pem.contains("Serial:") && pem.contains(String(shownSerial)), "\(pem) should show \(serial)")
            #expect(pem.contains("DNS:localhost, IP Address:127.0.0.1") && pem.contains("ECDSA 256-bit") && pem.contains("expires in"), "\(pem)")
            #expect(pem.contains("Issuer:") && pem.contains("Portcullis Development CA"), "\(pem)")
            #expect(try openssl(["x509", "-in", "pki/localhost.pem", "-outform", "der", "-out", "localhost.der"]).status == 0)
            let der = try cert(["inspect", "localhost.der"]).stdout
            #expect(der.contains("DER certificate") && der.contains(fingerprint), "\(der)")

            // CSR: signed by the key, the SANs requested; openssl verifies it.
            try cert(["csr", "--key", "api.key", "--new-key", "--subject", "/O=Example/CN=api.example.com",
                      "--san", "api.example.com", "--san", "10.1.2.3", "--san", "URI:spiffe://example.org/api", "--out", "api.csr"])
            #expect(mode("api.key") == 0o600)
            let request = try openssl(["req", "-in", "api.csr", "-verify", "-noout", "-text"])
            #expect(request.status == 0 && (request.stdout + request.stderr).contains("verify OK"), "\(request.stdout)\(request.stderr)")
            #expect(request.stdout.contains("DNS:api.example.com, IP Address:10.1.2.3, URI:spiffe://example.org/api"), "\(request.stdout)")
            #expect(request.stdout.contains("O = Example, CN = api.example.com"), "\(request.stdout)")
            let fromExisting = try cert(["csr", "--key", "pki/alice.key", "--subject", "CN=alice"])
            #expect(fromExisting.stdout.hasPrefix("-----BEGIN CERTIFICATE REQUEST-----"), "\(fromExisting.stdout)")
        }

        @Test func badInputGetsAClearError() throws {
            let noCA = try cert(["dev-server", "localhost", "--out", "empty"], expectSuccess: false)
            #expect(noCA.status == 1 && noCA.stderr.contains("ca.pem"), "\(noCA.stderr)")
            try cert(["dev-ca", "--out", "pki"])
            let cases: [([String], String)] = [
                (["dev-server", "bad name", "--ca", "pki", "--out", "pki"], "bad name"),
                (["dev-server", "a.*.example.com", "--ca", "pki", "--out", "pki"], "not a DNS name"),
                (["dev-client", "bob", "--uri", "no-scheme", "--ca", "pki", "--out", "pki"], "not a URI"),
                (["dev-server", "x", "--ca", "pki", "--out", "pki", "--key-type", "dsa"], "--key-type"),
                (["dev-ca", "--out", "other", "--subject", "CN=x,QQ=y"], "unknown subject field 'QQ'"),
                (["csr", "--key", "pki/ca.pem", "--subject", "CN=x"], "not a PEM private key"),
                (["csr", "--key", "missing.key", "--subject", "CN=x"], "missing.key"),
                (["pkcs12", "--cert", "pki/ca.pem", "--key", "pki/ca.key", "--out", "x.p12"], "needs a password"),
                (["inspect", "missing.pem"], "missing.pem"),
                (["dev-server", "x", "--ca-cert", "pki/ca.pem", "--out", "pki"], "--ca-key"),
            ]
            for (arguments, message) in cases {
                let result = try cert(arguments, expectSuccess: false)
                #expect(result.status == 1 && result.stderr.hasPrefix("error: ") && result.stderr.contains(message),
                        "\(arguments.joined(separator: " ")): \(result.stderr)")
            }
            try "not a certificate\n".write(toFile: path("junk.pem"), atomically: true, encoding: .utf8)
            let junk = try cert(["inspect", "junk.pem"], expectSuccess: false)
            #expect(junk.status == 1 && junk.stderr.contains("neither PEM nor DER"), "\(junk.stderr)")
            // A leaf cannot act as a CA.
            try cert(["dev-server", "leaf.example.com", "--ca", "pki", "--out", "pki"])
            let leafCA = try cert(["dev-server", "y", "--ca-cert", "pki/leaf.example.com.pem", "--ca-key", "pki/leaf.example.com.key",
                                   "--out", "pki"], expectSuccess: false)
            #expect(leafCA.status == 1 && leafCA.stderr.contains("not a CA"), "\(leafCA.stderr)")
        }
    }
}
