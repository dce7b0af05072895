import Foundation
import Logging
import OpenSSLCrypto
import Testing
@testable import OpenSSLSSL
@testable import PortcullisCore

/// A client PKI run with `openssl ca`, so revocation goes through the CLI's own database: `good` and
/// `revoked` are issued by `ca`; `revoked` is then revoked. `crlBefore` was generated before the revocation,
/// `crlAfter` after it; `otherCRL` is a valid CRL of an unrelated CA.
struct CRLPKI: Sendable {
    let directory: String
    let ca: HostPKI.Identity
    let good: HostPKI.Identity
    let revoked: HostPKI.Identity
    let crlBefore: String
    let crlAfter: String
    let otherCRL: String

    static func shared() throws -> CRLPKI { try generated.get() }
    private static let generated: Result<CRLPKI, any Error> = Result { try CRLPKI.generate() }

    private static func generate() throws -> CRLPKI {
        let directory = NSTemporaryDirectory() + "portcullis-crl-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        func path(_ name: String) -> String { "\(directory)/\(name)" }
        func makeCA(_ name: String, _ commonName: String) throws -> String {
            let home = path(name)
            try FileManager.default.createDirectory(atPath: home + "/newcerts", withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: home + "/index.txt", contents: nil) else {
                throw HostTestFailure("cannot create \(home)/index.txt")
            }
            try "1000\n".write(toFile: home + "/serial", atomically: true, encoding: .utf8)
            try "01\n".write(toFile: home + "/crlnumber", atomically: true, encoding: .utf8)
            try """
                [ca]
                default_ca = ca_section
                [ca_section]
                dir = \(home)
                database = $dir/index.txt
                new_certs_dir = $dir/newcerts
                certificate = $dir/ca.pem
                private_key = $dir/ca.key
                serial = $dir/serial
                crlnumber = $dir/crlnumber
                default_md = sha256
                default_days = 30
                default_crl_days = 7
                policy = policy_any
                unique_subject = no
                [policy_any]
                commonName = supplied
                [client_ext]
                basicConstraints = CA:FALSE
                keyUsage = critical, digitalSignature
                extendedKeyUsage = clientAuth

                """.write(toFile: home + "/ca.cnf", atomically: true, encoding: .utf8)
            try HostPKI.openssl(["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                 "-keyout", home + "/ca.key", "-out", home + "/ca.pem", "-days", "30", "-subj", "/CN=\(commonName)",
                                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            return home
        }
        func client(_ name: String, ca home: String) throws -> HostPKI.Identity {
            try HostPKI.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                 "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", "/CN=\(name)"])
            try HostPKI.openssl(["ca", "-batch", "-notext", "-config", home + "/ca.cnf", "-extensions", "client_ext",
                                 "-in", path("\(name).csr"), "-out", path("\(name).pem")])
            chmod(path("\(name).key"), 0o600)
            return HostPKI.Identity(certificate: path("\(name).pem"), key: path("\(name).key"))
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let home = try makeCA("ca", "Portcullis CRL Test CA")
        let good = try client("good", ca: home)
        let revoked = try client("revoked", ca: home)
        try HostPKI.openssl(["ca", "-config", home + "/ca.cnf", "-gencrl", "-out", path("before.crl")])
        try HostPKI.openssl(["ca", "-config", home + "/ca.cnf", "-revoke", revoked.certificate, "-crl_reason", "keyCompromise"])
        try HostPKI.openssl(["ca", "-config", home + "/ca.cnf", "-gencrl", "-out", path("after.crl")])
        let other = try makeCA("other", "Unrelated CA")
        try HostPKI.openssl(["ca", "-config", other + "/ca.cnf", "-gencrl", "-out", path("other.crl")])
        return CRLPKI(
            directory: directory, ca: HostPKI.Identity(certificate: home + "/ca.pem", key: home + "/ca.key"), good: good,
            revoked: revoked, crlBefore: path("before.crl"), crlAfter: path("after.crl"), otherCRL: path("other.crl"))
    }
}

/// `client_crl_file`: revoked client certificates are refused in the handshake, through the compiled table
/// and its SNI switch; unreadable CRL files are configuration errors naming the file; a reload re-reads it.
@Suite struct HostCRLTests {
    let pki: HostPKI
    let crl: CRLPKI
    let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws {
        pki = try HostPKI.shared()
        crl = try CRLPKI.shared()
    }

    /// `www` (no client certificates, the default) and `api` (requires certificates from the CRL test CA,
    /// checked against `crlFile`): a handshake for api.example.com starts on the listener context and is
    /// switched to `api`'s.
    func configuration(crlFile: String?, ticketKeyFiles: [String] = []) -> ProxyConfiguration {
        var configuration = proxyConfiguration([
            hostConfiguration("www", pki.www, names: ["www.example.com"]),
            hostConfiguration("api", pki.api, names: ["api.example.com"], client: ClientPolicyConfiguration(
                verify: .require, caFile: crl.ca.certificate, crlFile: crlFile)),
        ], defaultHost: "www")
        configuration.ticketKeyFiles = ticketKeyFiles
        return configuration
    }

    func table(crlFile: String?) throws -> HostTable {
        try HostTable.compile(configuration(crlFile: crlFile), logger: quiet)
    }

    /// A copy of `source` at a fresh path, so a test can replace the file under a configuration.
    func copy(_ source: String) throws -> String {
        let path = crl.directory + "/clients-\(UUID().uuidString).crl"
        try FileManager.default.copyItem(atPath: source, toPath: path)
        return path
    }

    @Test func revokedClientCertificateIsRefusedAndOthersPass() throws {
        let table = try table(crlFile: crl.crlAfter)
        let good = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientCertificate: crl.good)
        #expect(good.succeeded, "\(String(describing: good.serverError))")
        #expect(table.host(for: good.server)?.name == "api")
        #expect(good.server.getVerifyResult() == 0)
        #expect(table.hosts[1].admits(good.server) == .allow)

        let revoked = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientCertificate: crl.revoked)
        #expect(!revoked.succeeded)
        #expect(revoked.serverError != nil)
        #expect(revoked.server.getVerifyResult() == Int(X509VerificationCode.ERR_CERT_REVOKED.rawValue))
        #expect("\(String(describing: revoked.serverError))".contains("certificate verify failed"))
        // The alert the client gets (with TLS 1.3 on its first read: its side of the handshake had finished).
        var alert: (any Error)? = revoked.clientError
        if alert == nil {
            do {
                _ = try revoked.client.recv(16)
                Issue.record("the revoked client read application data")
            } catch {
                alert = error
            }
        }
        #expect("\(String(describing: alert))".contains("certificate revoked"), "\(String(describing: alert))")
    }

    @Test func withoutTheCRLTheSameCertificatePasses() throws {
        // The control: revocation, not something else about the certificate, is what refuses it above.
        for file in [nil, crl.crlBefore] {
            let table = try table(crlFile: file)
            let outcome = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientCertificate: crl.revoked)
            #expect(outcome.succeeded, "CRL \(file ?? "none"): \(String(describing: outcome.serverError))")
        }
    }

    @Test func aPEMFileWithSeveralCRLsIsLoadedWhole() throws {
        // The issuer's CRL second, after an unrelated CA's: it must still be found.
        let bundle = crl.directory + "/bundle-\(UUID().uuidString).crl"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: crl.otherCRL)) + Data(contentsOf: URL(fileURLWithPath: crl.crlAfter))
        try bytes.write(to: URL(fileURLWithPath: bundle))
        let table = try table(crlFile: bundle)
        #expect(try handshake(listener: table.listeners[0], serverName: "api.example.com", clientCertificate: crl.good).succeeded)
        let revoked = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientCertificate: crl.revoked)
        #expect(!revoked.succeeded)
        #expect(revoked.server.getVerifyResult() == Int(X509VerificationCode.ERR_CERT_REVOKED.rawValue))
    }

    @Test func aCRLFileWithoutTheIssuersCRLRefusesEveryClient() throws {
        // CRL_CHECK needs a current CRL from the client certificate's issuer (documented).
        let table = try table(crlFile: crl.otherCRL)
        let outcome = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientCertificate: crl.good)
        #expect(!outcome.succeeded)
        #expect(outcome.server.getVerifyResult() == Int(X509VerificationCode.ERR_UNABLE_TO_GET_CRL.rawValue))
    }

    @Test func otherHostsOnTheListenerAreNotAffected() throws {
        let table = try table(crlFile: crl.crlAfter)
        let www = try handshake(listener: table.listeners[0], serverName: "www.example.com", clientCertificate: crl.revoked)
        #expect(www.succeeded)
        #expect(table.host(for: www.server)?.name == "www")
    }

    @Test func garbageOrMissingCRLFilesAreConfigurationErrorsNamingTheFile() throws {
        let garbage = crl.directory + "/garbage-\(UUID().uuidString).crl"
        try Data("this is not a CRL\n".utf8).write(to: URL(fileURLWithPath: garbage))
        let certificateOnly = pki.ca.certificate  // PEM, but no X509 CRL block
        let missing = crl.directory + "/missing.crl"
        for (file, expected) in [(garbage, "cannot read CRL file \(garbage)"), (certificateOnly, "cannot read CRL file \(certificateOnly)"),
                                 (missing, "cannot read CRL file \(missing): No such file or directory")] {
            do {
                _ = try table(crlFile: file)
                Issue.record("\(file): expected a configuration error")
            } catch let error as ConfigurationError {
                let diagnostic = try #require(error.diagnostics.first)
                #expect(error.diagnostics.count == 1)
                #expect(diagnostic.keyPath == "host[1].client_crl_file")
                #expect(diagnostic.message.contains(expected), "\(diagnostic.message)")
            }
        }
    }

    @Test func reloadRereadsTheCRLFile() throws {
        let file = try copy(crl.crlBefore)
        let before = try table(crlFile: file)
        #expect(try handshake(listener: before.listeners[0], serverName: "api.example.com", clientCertificate: crl.revoked).succeeded)
        // The CA publishes a new CRL at the same path; a reload compiles a new table from the same config.
        try Data(contentsOf: URL(fileURLWithPath: crl.crlAfter)).write(to: URL(fileURLWithPath: file))
        let after = try table(crlFile: file)
        #expect(!(try handshake(listener: after.listeners[0], serverName: "api.example.com", clientCertificate: crl.revoked).succeeded))
        // The table compiled before keeps its CRL (connections keep the table they started with).
        #expect(try handshake(listener: before.listeners[0], serverName: "api.example.com", clientCertificate: crl.revoked).succeeded)
        #expect(before.hosts[1].sessionIDContext != after.hosts[1].sessionIDContext)
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func aSessionFromBeforeTheNewCRLIsNotResumed(version: Int32) throws {
        // Instances sharing ticket keys would otherwise resume a session whose certificate was verified
        // against the old CRL, skipping the revocation check.
        let keys = crl.directory + "/tickets-\(UUID().uuidString).key"
        try Data(try TicketKeys.Key.generate().bytes).write(to: URL(fileURLWithPath: keys))
        let file = try copy(crl.crlBefore)
        let before = try HostTable.compile(configuration(crlFile: file, ticketKeyFiles: [keys]), logger: quiet)
        let clientContext = try Context(method: .tlsClient)
        try clientContext.setMaxProtoVersion(version)
        try clientContext.setSessionCacheMode(SSL.SESS_CACHE_CLIENT)
        try clientContext.useCertificateChainFile(crl.revoked.certificate)
        try clientContext.usePrivateKeyFile(crl.revoked.key)
        let first = try handshake(listener: before.listeners[0], serverName: "api.example.com", clientContext: clientContext)
        #expect(first.succeeded)
        let session = try #require(first.client.getSession())
        _ = try first.client.shutdown()
        // Same files, new compile: the session resumes (so the check below is not vacuous).
        let same = try HostTable.compile(configuration(crlFile: file, ticketKeyFiles: [keys]), logger: quiet)
        let resumed = try handshake(listener: same.listeners[0], serverName: "api.example.com", session: session, clientContext: clientContext)
        #expect(resumed.succeeded)
        #expect(resumed.server.sessionReused())

        try Data(contentsOf: URL(fileURLWithPath: crl.crlAfter)).write(to: URL(fileURLWithPath: file))
        let after = try HostTable.compile(configuration(crlFile: file, ticketKeyFiles: [keys]), logger: quiet)
        let refused = try handshake(listener: after.listeners[0], serverName: "api.example.com", session: session, clientContext: clientContext)
        #expect(!refused.server.sessionReused())
        #expect(!refused.succeeded)
        #expect(refused.server.getVerifyResult() == Int(X509VerificationCode.ERR_CERT_REVOKED.rawValue))
    }
}
