import Foundation
import Testing

extension Integration {
    /// `allow_email`, `allow_ip`, `allow_spki_sha256`, `proxy_client_certificate` and `client_refused_backend`
    /// through the real binary, with client certificates from `portcullis cert dev-client` and real clients
    /// (curl, openssl s_client, Python's ssl).
    @Suite struct MutualTLSExtras {
        let pki = IntegrationPKI.shared

        /// A development CA and its clients, made once per suite instance with the real `portcullis cert`.
        final class ClientPKI: @unchecked Sendable {
            let directory: URL
            init() throws {
                directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-mtls-extras-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try cert(["dev-ca", "--out", "pki"])
                try cert(["dev-client", "robot", "--email", "Robot@Fleet.example", "--ca", "pki", "--out", "pki"])
                try cert(["dev-client", "sensor", "--ip", "192.0.2.44", "--ip", "2001:db8::44", "--ca", "pki", "--out", "pki"])
                try cert(["dev-client", "pinned", "--ca", "pki", "--out", "pki"])
                try cert(["dev-client", "stranger", "--email", "robot@fleet.example", "--ip", "192.0.2.45", "--ca", "pki", "--out", "pki"])
            }
            func cert(_ arguments: [String]) throws {
                let result = try Run.command(BinaryLocator.portcullis.path, ["cert"] + arguments, currentDirectory: directory, timeout: 60)
                guard result.status == 0 else { throw IntegrationError.setup("portcullis cert \(arguments): \(result.stdout)\(result.stderr)") }
            }
            func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
            var ca: String { path("pki/ca.pem") }
            func certificate(_ name: String) -> String { path("pki/\(name).pem") }
            func key(_ name: String) -> String { path("pki/\(name).key") }

            /// The pin as the README computes it.
            func pin(_ name: String) throws -> String {
                let shell = "openssl x509 -in '\(certificate(name))' -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64"
                let result = try Run.command("/bin/sh", ["-c", shell], timeout: 30)
                guard result.status == 0 else { throw IntegrationError.setup("pin: \(result.stderr)") }
                return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }

            /// The certificate's DER bytes (`openssl x509 -outform DER`).
            func der(_ file: String) throws -> Data {
                let out = path("\(UUID().uuidString).der")
                let result = try Run.command("/usr/bin/openssl", ["x509", "-in", file, "-outform", "DER", "-out", out], timeout: 30)
                guard result.status == 0 else { throw IntegrationError.setup("der: \(result.stderr)") }
                return try Data(contentsOf: URL(fileURLWithPath: out))
            }
        }

        private func start(_ clients: ClientPKI, extra: [String: String], backend: TestBackend) throws -> (ProxyProcess, UInt16) {
            let port = Ports.free()
            var host = ProxyConfigBuilder.Host(
                name: "gate", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                backends: ["127.0.0.1:\(backend.port)"])
            host.extra = extra
            host.extra["client_ca_file"] = tomlString(clients.ca)
            if host.extra["client_verify"] == nil { host.extra["client_verify"] = tomlString("require") }
            var config = ProxyConfigBuilder()
            config.hosts = [host]
            config.listeners = [.init(name: "gate", port: port, hosts: ["gate"], defaultHost: "gate")]
            return (try ProxyProcess(config: config.toml, waitForPorts: [port]), port)
        }

        private func python(_ port: UInt16, _ clients: ClientPKI, _ name: String?) throws -> PythonTLSClient.Outcome {
            try PythonTLSClient.run(.init(
                port: port, sni: "a.example.com", caFile: pki.serverCA, certFile: name.map(clients.certificate),
                keyFile: name.map(clients.key), sendText: "GET / HTTP/1.0\r\n\r\n", halfClose: false, timeout: 10))[0]
        }

        private func accessLines(_ proxy: ProxyProcess, count: Int) -> [Substring] {
            _ = proxy.waitForLog("close=", count: count, timeout: 10)
            return proxy.logLines(containing: "close=")
        }

        @Test func admitsByEmailIPAndPinAndRefusesTheRest() throws {
            let clients = try ClientPKI()
            let backend = try TestBackend(mode: .http("welcome"))
            let pin = try clients.pin("pinned")
            let (proxy, port) = try start(clients, extra: [
                "allow_email": tomlArray(["Robot@FLEET.example"]),  // domain case-insensitive, local part exact
                "allow_ip": tomlArray(["2001:db8:0:0:0:0:0:44", "10.0.0.0/8"]),  // compared as binary addresses
                "allow_spki_sha256": tomlArray([pin]),
            ], backend: backend)
            defer { proxy.stop() }

            // curl with the e-mail certificate.
            let curl = try Curl.get(name: "a.example.com", port: port, caFile: pki.serverCA,
                                    extra: ["--cert", clients.certificate("robot"), "--key", clients.key("robot")])
            #expect(curl.status == 0 && curl.stdout == "welcome", "\(curl.stdout)\(curl.stderr)\n\(proxy.log)")
            // openssl s_client with the IP certificate.
            let sclient = try SClient.connect(port: port, servername: "a.example.com", caFile: pki.serverCA,
                                              cert: clients.certificate("sensor"), key: clients.key("sensor"),
                                              extra: ["-ign_eof"], input: "GET / HTTP/1.0\r\n\r\n")
            #expect(sclient.output.contains("welcome"), "\(sclient.output)\n\(proxy.log)")
            // Python with the pinned certificate (no names the lists know).
            let pinned = try python(port, clients, "pinned")
            #expect(pinned.ok && pinned.received_text?.hasSuffix("welcome") == true, "\(pinned.error ?? "")\n\(proxy.log)")
            // Same CA, e-mail differs only in the local part's case, IP not listed, other key: refused.
            let stranger = try python(port, clients, "stranger")
            #expect(stranger.received_text?.contains("welcome") != true, "the stranger got through")
            #expect(backend.acceptedCount == 3)

            let lines = accessLines(proxy, count: 4)
            #expect(lines.contains { $0.contains("allow=\"email=Robot@Fleet.example\"") }, "\(lines)")
            #expect(lines.contains { $0.contains("allow=\"ip=2001:db8::44\"") }, "\(lines)")
            #expect(lines.contains { $0.contains("allow=\"spki=\(pin)\"") }, "\(lines)")
            let refused = lines.first { $0.contains("close=policy_denied") }
            #expect(refused?.contains("email:robot@fleet.example") == true && refused?.contains("IP:192.0.2.45") == true, "\(lines)")
        }

        /// Finds sub-TLV `subtype` inside the PP2_TYPE_SSL TLV of the PROXY v2 header at the start of `bytes`.
        private func sslSubTLV(_ bytes: [UInt8], _ subtype: UInt8) -> [UInt8]? {
            guard bytes.count >= 16, bytes[12] == 0x21 else { return nil }
            let length = Int(bytes[14]) << 8 | Int(bytes[15])
            guard bytes.count >= 16 + length else { return nil }
            let addressLength = bytes[13] == 0x11 ? 12 : (bytes[13] == 0x21 ? 36 : 0)
            var offset = 16 + addressLength
            while offset + 3 <= 16 + length {
                let type = bytes[offset]
                let valueLength = Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
                let value = Array(bytes[(offset + 3)..<(offset + 3 + valueLength)])
                if type == 0x20 {
                    var inner = 5
                    while inner + 3 <= value.count {
                        let innerLength = Int(value[inner + 1]) << 8 | Int(value[inner + 2])
                        if value[inner] == subtype { return Array(value[(inner + 3)..<(inner + 3 + innerLength)]) }
                        inner += 3 + innerLength
                    }
                }
                offset += 3 + valueLength
            }
            return nil
        }

        @Test func theProxyV2HeaderCarriesTheExactClientCertificate() throws {
            let clients = try ClientPKI()
            let backend = try TestBackend(mode: .http("ok"))
            // A client certificate too large for the 16 KiB header: 400 long SAN DNS names.
            let names = (0..<400).map { "DNS:host-\($0)-padding-padding-padding.big.example.com" }.joined(separator: ",")
            try "subjectAltName=\(names)\nextendedKeyUsage=clientAuth\n".write(toFile: clients.path("big.ext"), atomically: true, encoding: .utf8)
            for arguments in [
                ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", clients.path("big.key"),
                 "-out", clients.path("big.csr"), "-subj", "/CN=big"],
                ["x509", "-req", "-in", clients.path("big.csr"), "-CA", clients.ca, "-CAkey", clients.path("pki/ca.key"),
                 "-CAcreateserial", "-out", clients.path("big.pem"), "-days", "2", "-extfile", clients.path("big.ext")],
            ] {
                let result = try Run.command("/usr/bin/openssl", arguments, timeout: 30)
                #expect(result.status == 0, "\(result.stderr)")
            }
            let (proxy, port) = try start(clients, extra: ["proxy_protocol": tomlString("v2"), "proxy_client_certificate": "true"],
                                          backend: backend)
            defer { proxy.stop() }

            let robot = try python(port, clients, "robot")
            #expect(robot.ok && robot.received_text?.hasSuffix("ok") == true, "\(robot.error ?? "")\n\(proxy.log)")
            let received = backend.waitForConnections(1)
            let header = Array(try #require(received.first))
            #expect(sslSubTLV(header, 0x28) == Array(try clients.der(clients.certificate("robot"))), "the backend must get the exact DER certificate")
            #expect(sslSubTLV(header, 0x22) == Array("robot".utf8))

            // Too large: the connection goes on without the certificate, and the warning is logged once.
            for _ in 0..<2 {
                let big = try PythonTLSClient.run(.init(
                    port: port, sni: "a.example.com", caFile: pki.serverCA, certFile: clients.path("big.pem"),
                    keyFile: clients.path("big.key"), sendText: "GET / HTTP/1.0\r\n\r\n", halfClose: false, timeout: 10))[0]
                #expect(big.ok && big.received_text?.hasSuffix("ok") == true, "\(big.error ?? "")\n\(proxy.log)")
            }
            let all = backend.waitForConnections(3)
            #expect(all.count == 3)
            for bytes in all.dropFirst() {
                #expect(sslSubTLV(Array(bytes), 0x28) == nil)
                #expect(sslSubTLV(Array(bytes), 0x22) == Array("big".utf8))
            }
            #expect(proxy.waitForLog("does not fit the PROXY v2 header", timeout: 5), "\(proxy.log)")
            #expect(proxy.logLines(containing: "does not fit the PROXY v2 header").count == 1, "\(proxy.log)")
        }

        @Test func refusedClientsGoToTheRefusedBackend() throws {
            let clients = try ClientPKI()
            let backend = try TestBackend(mode: .http("welcome"))
            let honeypot = try TestBackend(mode: .http("access denied"))
            let (proxy, port) = try start(clients, extra: [
                "client_verify": tomlString("optional"),
                "allow_email": tomlArray(["Robot@fleet.example"]),
                "client_refused_backend": tomlString("127.0.0.1:\(honeypot.port)"),
            ], backend: backend)
            defer { proxy.stop() }

            let robot = try python(port, clients, "robot")
            #expect(robot.ok && robot.received_text?.hasSuffix("welcome") == true, "\(robot.error ?? "")\n\(proxy.log)")
            let stranger = try python(port, clients, "stranger")
            #expect(stranger.ok && stranger.received_text?.hasSuffix("access denied") == true, "\(stranger.error ?? "")\n\(proxy.log)")
            // No certificate on an optional host is not an allow-list refusal: the normal backend, as before.
            let anonymous = try python(port, clients, nil)
            #expect(anonymous.ok && anonymous.received_text?.hasSuffix("welcome") == true, "\(anonymous.error ?? "")")
            // A certificate that does not verify still fails the handshake; nobody is redirected for it.
            let foreign = try PythonTLSClient.run(.init(
                port: port, sni: "a.example.com", caFile: pki.serverCA, certFile: pki.cert("good"), keyFile: pki.key("good"),
                sendText: "GET / HTTP/1.0\r\n\r\n", halfClose: false, timeout: 10))[0]
            #expect(foreign.received_text?.contains("welcome") != true && foreign.received_text?.contains("denied") != true)
            #expect(backend.acceptedCount == 2)
            #expect(honeypot.acceptedCount == 1)

            let lines = accessLines(proxy, count: 4)
            let redirected = lines.filter { $0.contains("redirected=") }
            #expect(redirected.count == 1, "\(lines)")
            #expect(redirected.first?.contains("backend=127.0.0.1:\(honeypot.port)") == true, "\(lines)")
            #expect(redirected.first?.contains("matches no allow-list entry") == true, "\(lines)")
            #expect(redirected.first?.contains("close=policy_denied") == false, "\(lines)")
            #expect(lines.contains { $0.contains("close=handshake_failed") }, "\(lines)")
        }

        @Test func checkReportsTheNewKeysWithFileAndLine() throws {
            let clients = try ClientPKI()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pc-check-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let path = directory.appendingPathComponent("portcullis.toml").path
            var host = ProxyConfigBuilder.Host(
                name: "gate", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))], backends: ["127.0.0.1:9"])
            host.extra = ["client_verify": tomlString("require"), "client_ca_file": tomlString(clients.ca),
                          "allow_ip": tomlArray(["10.0.0.1/8"]), "proxy_client_certificate": "true",
                          "allow_spki_sha256": tomlArray(["not-a-pin"])]
            var config = ProxyConfigBuilder()
            config.hosts = [host]
            config.listeners = [.init(name: "gate", port: 8443, hosts: ["gate"])]
            try config.toml.write(toFile: path, atomically: true, encoding: .utf8)
            let result = try Run.command(BinaryLocator.portcullis.path, ["check", "--config", path], timeout: 30)
            let output = result.stdout + result.stderr
            #expect(result.status == 1, "\(output)")
            let lines = config.toml.split(separator: "\n", omittingEmptySubsequences: false)
            for (key, expected) in [("allow_ip", "did you mean \"10.0.0.0/8\""), ("proxy_client_certificate", "needs proxy_protocol = \"v2\""),
                                    ("allow_spki_sha256", "SubjectPublicKeyInfo")] {
                let line = try #require(lines.firstIndex { $0.hasPrefix("\(key) =") }) + 1
                #expect(output.contains("portcullis.toml:\(line)"), "\(key): \(output)")
                #expect(output.contains("host[0].\(key)") && output.contains(expected), "\(key): \(output)")
            }
        }
    }
}
