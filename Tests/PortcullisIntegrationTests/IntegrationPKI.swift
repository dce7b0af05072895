import Foundation

/// A throwaway PKI for the integration tests, made once per test process with the `openssl` CLI in a temp dir.
///
/// Server certificates: `a.example.com` (RSA), `b.example.com` (ECDSA P-256), `*.wild.example.com` (RSA),
/// `default.example.com` (RSA). Client certificates: `good` (signed by the client CA, SAN DNS
/// `good.clients.example.com`, SAN URI `spiffe://example.com/good`, OU `gate`), `stranger` (same CA, matches no
/// allow-list), `other-ca` (signed by an unrelated CA), `expired` (client CA, validity in the past),
/// `revoked` (client CA, listed in `clientCRL`).
final class IntegrationPKI: @unchecked Sendable {
    static let shared: IntegrationPKI = {
        do { return try IntegrationPKI() } catch { fatalError("cannot build the test PKI: \(error)") }
    }()

    let directory: URL

    private init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portcullis-itest-pki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try build()
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    // Server side.
    var serverCA: String { path("server-ca.pem") }
    func cert(_ name: String) -> String { path("\(name).crt") }
    func key(_ name: String) -> String { path("\(name).key") }

    // Client side.
    var clientCA: String { path("client-ca.pem") }
    var otherCA: String { path("other-ca.pem") }
    var clientCRL: String { path("client-ca.crl") }

    private func openssl(_ arguments: [String], input: String? = nil) throws {
        let result = try Run.command("/usr/bin/openssl", arguments, currentDirectory: directory, input: input, timeout: 60)
        guard result.status == 0 else {
            throw IntegrationError.setup("openssl \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    private func makeCA(_ name: String, subject: String) throws {
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(name).key", "-out", "\(name).pem",
                     "-days", "30", "-subj", subject,
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    }

    /// Issues a leaf certificate for `name` signed by `ca`.
    private func issue(_ name: String, ca: String, subject: String, keyType: String = "rsa", extensions: String) throws {
        if keyType == "ec" {
            try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "\(name).key"])
        } else {
            try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "\(name).key"])
        }
        try openssl(["req", "-new", "-key", "\(name).key", "-out", "\(name).csr", "-subj", subject])
        try write("\(name).ext", extensions)
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key",
                     "-CAcreateserial", "-out", "\(name).crt", "-extfile", "\(name).ext", "-days", "30"])
        chmod(path("\(name).key"), 0o600)
    }

    private func serverExtensions(_ dns: [String]) -> String {
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
            + "subjectAltName=" + (dns.map { "DNS:\($0)" } + ["IP:127.0.0.1"]).joined(separator: ",") + "\n"
    }

    private func clientExtensions(dns: String, uri: String) -> String {
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n"
            + "subjectAltName=DNS:\(dns),URI:\(uri)\n"
    }

    private func build() throws {
        try makeCA("server-ca", subject: "/CN=Portcullis Test Server CA")
        try makeCA("client-ca", subject: "/CN=Portcullis Test Client CA")
        try makeCA("other-ca", subject: "/CN=Unrelated CA")

        try issue("a", ca: "server-ca", subject: "/CN=a.example.com", extensions: serverExtensions(["a.example.com"]))
        try issue("b", ca: "server-ca", subject: "/CN=b.example.com", keyType: "ec",
                  extensions: serverExtensions(["b.example.com"]))
        try issue("b-rsa", ca: "server-ca", subject: "/CN=b.example.com", extensions: serverExtensions(["b.example.com"]))
        try issue("wild", ca: "server-ca", subject: "/CN=*.wild.example.com",
                  extensions: serverExtensions(["*.wild.example.com"]))
        try issue("default", ca: "server-ca", subject: "/CN=default.example.com",
                  extensions: serverExtensions(["default.example.com", "localhost"]))

        try issue("good", ca: "client-ca", subject: "/O=Example/OU=gate/CN=good-client",
                  extensions: clientExtensions(dns: "good.clients.example.com", uri: "spiffe://example.com/good"))
        try issue("stranger", ca: "client-ca", subject: "/O=Example/OU=elsewhere/CN=stranger",
                  extensions: clientExtensions(dns: "stranger.clients.example.com", uri: "spiffe://example.com/stranger"))
        try issue("other-ca-client", ca: "other-ca", subject: "/OU=gate/CN=good-client",
                  extensions: clientExtensions(dns: "good.clients.example.com", uri: "spiffe://example.com/good"))
        try issue("revoked", ca: "client-ca", subject: "/OU=gate/CN=good-client",
                  extensions: clientExtensions(dns: "good.clients.example.com", uri: "spiffe://example.com/good"))

        // A CRL from the client CA that revokes `revoked`.
        try write("ca.cnf", """
            [ca]
            default_ca = client
            [client]
            database = index.txt
            crlnumber = crlnumber
            default_md = sha256
            default_crl_days = 30
            certificate = client-ca.pem
            private_key = client-ca.key
            new_certs_dir = .
            serial = ca-serial
            policy = anything
            [anything]
            commonName = supplied
            organizationalUnitName = optional
            organizationName = optional
            """)
        try write("index.txt", "")
        try write("crlnumber", "01\n")
        try write("ca-serial", "1000\n")
        // `openssl x509 -req` on 3.0 cannot back-date, `openssl ca` can: the expired client certificate.
        try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "expired.key"])
        try openssl(["req", "-new", "-key", "expired.key", "-out", "expired.csr", "-subj", "/OU=gate/CN=good-client"])
        try write("expired.ext", clientExtensions(dns: "good.clients.example.com", uri: "spiffe://example.com/good"))
        try openssl(["ca", "-config", "ca.cnf", "-batch", "-notext", "-in", "expired.csr", "-out", "expired.crt",
                     "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extfile", "expired.ext"])
        try openssl(["ca", "-config", "ca.cnf", "-revoke", "revoked.crt"])
        try openssl(["ca", "-config", "ca.cnf", "-gencrl", "-out", "client-ca.crl"])
    }
}

enum IntegrationError: Error, CustomStringConvertible {
    case setup(String)
    case timeout(String)
    var description: String {
        switch self {
        case .setup(let message), .timeout(let message): return message
        }
    }
}
