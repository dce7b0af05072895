import Foundation
import Logging
import OpenSSLCrypto
import Testing
@testable import OpenSSLSSL
@testable import PortcullisCore

/// OCSP responses from `openssl ocsp` for `HostPKI`'s server certificates: an `index.txt` per outcome (all
/// good, all revoked, empty: unknown), chain files with the CA after the leaf, and a TOML file per test so
/// errors carry real line numbers.
final class OCSPFixture: @unchecked Sendable {
    static func shared() throws -> OCSPFixture { try generated.get() }
    private static let generated: Result<OCSPFixture, any Error> = Result { try OCSPFixture() }

    enum Database: String { case good, revoked, empty }

    let pki: HostPKI
    let directory: String

    private init() throws {
        pki = try HostPKI.shared()
        directory = NSTemporaryDirectory() + "portcullis-ocsp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var good = "", revoked = ""
        // Subjects must be unique in an index (unique_subject defaults to yes).
        for (offset, identity) in [pki.www, pki.api, pki.apiRSA].enumerated() {
            let serial = try HostPKI.openssl(["x509", "-in", identity.certificate, "-noout", "-serial"])
                .trimmingCharacters(in: .whitespacesAndNewlines).dropFirst("serial=".count)
            good += "V\t301231235959Z\t\t\(serial)\tunknown\t/CN=entry\(offset)\n"
            revoked += "R\t301231235959Z\t231101000000Z,superseded\t\(serial)\tunknown\t/CN=entry\(offset)\n"
        }
        try good.write(toFile: path("good.txt"), atomically: true, encoding: .utf8)
        try revoked.write(toFile: path("revoked.txt"), atomically: true, encoding: .utf8)
        try "".write(toFile: path("empty.txt"), atomically: true, encoding: .utf8)
    }

    func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// `identity`'s certificate followed by the CA (the issuer the response is checked against).
    func chain(_ identity: HostPKI.Identity) throws -> String {
        let target = path(URL(fileURLWithPath: identity.certificate).deletingPathExtension().lastPathComponent + "-chain.pem")
        let text = try String(contentsOfFile: identity.certificate, encoding: .utf8) + String(contentsOfFile: pki.ca.certificate, encoding: .utf8)
        try text.write(toFile: target, atomically: true, encoding: .utf8)
        return target
    }

    /// A DER response about `identity` from `database`, signed by `signer` (the CA by default); its path.
    func response(for identity: HostPKI.Identity, database: Database = .good, signer: HostPKI.Identity? = nil) throws -> String {
        let signer = signer ?? pki.ca
        let tag = UUID().uuidString
        try HostPKI.openssl(["ocsp", "-issuer", pki.ca.certificate, "-cert", identity.certificate,
                             "-reqout", path("\(tag).req"), "-no_nonce"])
        try HostPKI.openssl(["ocsp", "-index", path("\(database.rawValue).txt"), "-rsigner", signer.certificate,
                             "-rkey", signer.key, "-CA", pki.ca.certificate, "-reqin", path("\(tag).req"),
                             "-respout", path("\(tag).der"), "-ndays", "1"])
        return path("\(tag).der")
    }

    /// Writes `toml` to a new file and returns its path.
    func configFile(_ toml: String) throws -> String {
        let file = path("\(UUID().uuidString).toml")
        try toml.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// One listener and host `www`; `certificates` is the host's certificate TOML.
    func toml(_ certificates: String) -> String {
        """
        [[listener]]
        listen = "127.0.0.1:0"

        [[host]]
        name = "www"
        names = ["www.example.com", "api.example.com"]
        backend = "127.0.0.1:9"
        \(certificates)
        """
    }
}

/// `ocsp_response_file`: what is loaded, what is refused, and what each handshake gets stapled.
@Suite struct HostOCSPTests {
    let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// Handshakes with `table`'s listener asking for certificate status (unless `request` is false) and
    /// returns the outcome and the stapled bytes the client saw (nil: its callback was not called).
    private func staple(
        _ table: HostTable, serverName: String = "www.example.com", request: Bool = true, cipher: String? = nil
    ) throws -> (outcome: HandshakeOutcome, stapled: [UInt8]?) {
        let seen = LockedValue<[UInt8]?>(nil)
        let outcome = try handshake(listener: table.listeners[0], serverName: serverName, configureClient: { context in
            if let cipher {
                try context.setMaxProtoVersion(SSL.TLS1_2_VERSION)
                try context.setCipherList(cipher)
            }
            try context.setOCSPClientCallback { _, bytes, _ in seen.value = bytes; return true }
        }, configureConnection: { connection in
            if request { try connection.requestOCSP() }
        })
        return (outcome, seen.value)
    }

    private func load(_ file: String, now: Int64? = nil, logger: Logger? = nil) throws -> HostTable {
        let configuration = try ConfigurationLoader.load(file: file)
        if let now { return try HostTable.compile(configuration, logger: logger ?? quiet, now: now) }
        return try HostTable.compile(configuration, logger: logger ?? quiet)
    }

    /// The one diagnostic compiling `file` produces.
    private func diagnostic(_ file: String) throws -> ConfigurationDiagnostic {
        do {
            _ = try load(file)
        } catch let error as ConfigurationError {
            #expect(error.diagnostics.count == 1, "\(error)")
            return try #require(error.diagnostics.first)
        }
        throw HostTestFailure("\(file) compiled")
    }

    @Test func staplesTheResponseOnlyToClientsThatAsk() throws {
        let fixture = try OCSPFixture.shared()
        let response = try fixture.response(for: fixture.pki.www)
        let table = try load(fixture.configFile(fixture.toml("""
            certificate = "\(try fixture.chain(fixture.pki.www))"
            key = "\(fixture.pki.www.key)"
            ocsp_response_file = "\(response)"
            """)))
        let der = Array(try Data(contentsOf: URL(fileURLWithPath: response)))
        let asked = try staple(table)
        #expect(asked.outcome.succeeded, "\(String(describing: asked.outcome.serverError))")
        #expect(asked.stapled == der)
        #expect(asked.outcome.server.stapledOCSPResponse)
        // Without status_request OpenSSL calls no status callback, on either side.
        let silent = try staple(table, request: false)
        #expect(silent.outcome.succeeded)
        #expect(silent.stapled == nil)
        #expect(!silent.outcome.server.stapledOCSPResponse)

        let staples = table.hosts[0].ocspStaples
        #expect(staples.count == 1)
        #expect(staples.first?.status == .good)
        #expect(staples.first?.file == response)
        #expect(staples.first?.subject == "/CN=www.example.com")
    }

    @Test func eachCertificateGetsItsOwnResponse() throws {
        let fixture = try OCSPFixture.shared()
        let ecdsa = try fixture.response(for: fixture.pki.api)
        let rsa = try fixture.response(for: fixture.pki.apiRSA)
        let table = try load(fixture.configFile(fixture.toml("""
            [[host.certificates]]
            certificate = "\(try fixture.chain(fixture.pki.api))"
            key = "\(fixture.pki.api.key)"
            ocsp_response_file = "\(ecdsa)"
            [[host.certificates]]
            certificate = "\(try fixture.chain(fixture.pki.apiRSA))"
            key = "\(fixture.pki.apiRSA.key)"
            ocsp_response_file = "\(rsa)"
            """)))
        let rsaClient = try staple(table, serverName: "api.example.com", cipher: "ECDHE-RSA-AES128-GCM-SHA256")
        #expect(rsaClient.outcome.succeeded, "\(String(describing: rsaClient.outcome.clientError))")
        #expect(try rsaClient.outcome.client.getPeerCertificate()?.getPubkey().type() == Crypto.TYPE_RSA)
        #expect(rsaClient.stapled == Array(try Data(contentsOf: URL(fileURLWithPath: rsa))))
        let ecdsaClient = try staple(table, serverName: "api.example.com", cipher: "ECDHE-ECDSA-AES128-GCM-SHA256")
        #expect(try ecdsaClient.outcome.client.getPeerCertificate()?.getPubkey().type() == Crypto.TYPE_EC)
        #expect(ecdsaClient.stapled == Array(try Data(contentsOf: URL(fileURLWithPath: ecdsa))))
        // TLS 1.3 with OpenSSL's default signature algorithms: whichever certificate, its own response.
        let tls13 = try staple(table, serverName: "api.example.com")
        let served = try #require(try tls13.outcome.client.getPeerCertificate()?.getPubkey().type())
        #expect(tls13.stapled == Array(try Data(contentsOf: URL(fileURLWithPath: served == Crypto.TYPE_RSA ? rsa : ecdsa))))
    }

    @Test func aCertificateWithoutResponseStaplesNothing() throws {
        let fixture = try OCSPFixture.shared()
        let ecdsa = try fixture.response(for: fixture.pki.api)
        let table = try load(fixture.configFile(fixture.toml("""
            [[host.certificates]]
            certificate = "\(try fixture.chain(fixture.pki.api))"
            key = "\(fixture.pki.api.key)"
            ocsp_response_file = "\(ecdsa)"
            [[host.certificates]]
            certificate = "\(fixture.pki.apiRSA.certificate)"
            key = "\(fixture.pki.apiRSA.key)"
            """)))
        let rsaClient = try staple(table, serverName: "api.example.com", cipher: "ECDHE-RSA-AES128-GCM-SHA256")
        #expect(rsaClient.outcome.succeeded)
        #expect(rsaClient.stapled?.isEmpty == true, "the ECDSA certificate's response must not be stapled to the RSA certificate")
    }

    @Test func responsesAreStapledOnlyInsideTheirValidity() throws {
        let fixture = try OCSPFixture.shared()
        let table = try load(fixture.configFile(fixture.toml("""
            certificate = "\(try fixture.chain(fixture.pki.www))"
            key = "\(fixture.pki.www.key)"
            ocsp_response_file = "\(try fixture.response(for: fixture.pki.www))"
            """)))
        let staple = try #require(table.hosts[0].ocspStaples.first)
        let nextUpdate = try #require(staple.nextUpdate)
        let stapler = OCSPStapler(table.hosts[0].ocspStaples)
        let served = try self.staple(table).outcome.server
        #expect(stapler.response(for: served, now: nextUpdate - 1) == staple.response)
        #expect(stapler.response(for: served, now: nextUpdate) == [])
        #expect(stapler.response(for: served, now: staple.thisUpdate - OCSPStaple.allowedSkew) == staple.response)
        #expect(stapler.response(for: served, now: staple.thisUpdate - OCSPStaple.allowedSkew - 1) == [])
    }

    @Test func anExpiredResponseLoadsWithAWarningAndIsNotStapled() throws {
        let fixture = try OCSPFixture.shared()
        let response = try fixture.response(for: fixture.pki.www)
        let file = try fixture.configFile(fixture.toml("""
            certificate = "\(try fixture.chain(fixture.pki.www))"
            key = "\(fixture.pki.www.key)"
            ocsp_response_file = "\(response)"
            """))
        let nextUpdate = try #require(try load(file).hosts[0].ocspStaples.first?.nextUpdate)
        let log = CapturedLog()
        let table = try load(file, now: nextUpdate + 60, logger: capturingLogger(log))
        #expect(log.messages.contains { $0.hasPrefix("warning") && $0.contains(response) && $0.contains("expired") }, "\(log.messages)")
        #expect(table.hosts[0].ocspStaples.count == 1)
        let served = try staple(table).outcome.server
        #expect(OCSPStapler(table.hosts[0].ocspStaples).response(for: served, now: nextUpdate + 60) == [])
    }

    @Test func aRevokedResponseIsStapledWithAWarning() throws {
        let fixture = try OCSPFixture.shared()
        let response = try fixture.response(for: fixture.pki.www, database: .revoked)
        let log = CapturedLog()
        let table = try load(fixture.configFile(fixture.toml("""
            certificate = "\(try fixture.chain(fixture.pki.www))"
            key = "\(fixture.pki.www.key)"
            ocsp_response_file = "\(response)"
            """)), logger: capturingLogger(log))
        #expect(log.messages.contains { $0.hasPrefix("warning") && $0.contains(response) && $0.contains("REVOKED") }, "\(log.messages)")
        #expect(table.hosts[0].ocspStaples.first?.status == .revoked(time: 1_698_796_800, reason: .superseded))
        #expect(try staple(table).stapled == Array(try Data(contentsOf: URL(fileURLWithPath: response))))
    }

    @Test func badResponsesAreConfigurationErrorsNamingFileLineKeyAndReason() throws {
        let fixture = try OCSPFixture.shared()
        let pki = fixture.pki
        let garbage = fixture.path("garbage.der")
        try "not DER".write(toFile: garbage, atomically: true, encoding: .utf8)
        let unauthorized = fixture.path("unauthorized.der")
        try Data([0x30, 0x03, 0x0a, 0x01, 0x06]).write(to: URL(fileURLWithPath: unauthorized))
        let cases: [(file: String, chain: String, expected: String)] = [
            (fixture.path("missing.der"), try fixture.chain(pki.www), "cannot read OCSP response \(fixture.path("missing.der")): No such file"),
            (garbage, try fixture.chain(pki.www), "expected a DER OCSP response"),
            (unauthorized, try fixture.chain(pki.www), "has status unauthorized, not successful"),
            (try fixture.response(for: pki.api), try fixture.chain(pki.www), "is for another certificate: it has no entry for /CN=www.example.com"),
            (try fixture.response(for: pki.www, database: .empty), try fixture.chain(pki.www), "status unknown"),
            (try fixture.response(for: pki.www, signer: pki.otherCA), try fixture.chain(pki.www), "is not signed by the issuer of"),
            (try fixture.response(for: pki.www), pki.www.certificate, "has no issuer certificate (/CN=Portcullis Host Test CA)"),
        ]
        for (file, chain, expected) in cases {
            let config = try fixture.configFile(fixture.toml("""
                certificate = "\(chain)"
                key = "\(pki.www.key)"
                ocsp_response_file = "\(file)"
                """))
            let diagnostic = try diagnostic(config)
            #expect(diagnostic.keyPath == "host[0].ocsp_response_file")
            #expect(diagnostic.line == 10, "\(diagnostic)")
            #expect(diagnostic.file.hasSuffix(".toml"))
            #expect(diagnostic.message.contains(file), "\(diagnostic.message)")
            #expect(diagnostic.message.contains(expected), "\(diagnostic.message)")
        }
    }

    @Test func errorsInACertificatesElementNameThatElement() throws {
        let fixture = try OCSPFixture.shared()
        let config = try fixture.configFile(fixture.toml("""
            certificate = "\(try fixture.chain(fixture.pki.api))"
            key = "\(fixture.pki.api.key)"
            [[host.certificates]]
            certificate = "\(try fixture.chain(fixture.pki.apiRSA))"
            key = "\(fixture.pki.apiRSA.key)"
            ocsp_response_file = "\(try fixture.response(for: fixture.pki.api))"
            """))
        let diagnostic = try diagnostic(config)
        #expect(diagnostic.keyPath == "host[0].certificates[0].ocsp_response_file")
        #expect(diagnostic.message.contains("is for another certificate"), "\(diagnostic.message)")
    }

    @Test func theKeyIsParsedPerCertificate() throws {
        let configuration = try parseConfiguration(minimalHost + """
            ocsp_response_file = "ocsp/www.der"
            certificates = [{ certificate = "rsa.pem", ocsp_response_file = "/var/lib/ocsp/rsa.der" }]
            """)
        #expect(configuration.hosts[0].certificates.map(\.ocspResponseFile) == ["/etc/portcullis/ocsp/www.der", "/var/lib/ocsp/rsa.der"])
        let orphan = diagnostics("""
            [[listener]]
            listen = "127.0.0.1:8443"
            [[host]]
            name = "www"
            ocsp_response_file = "www.der"
            certificates = [{ certificate = "rsa.pem" }]
            backend = "127.0.0.1:8080"
            """)
        #expect(orphan.contains { $0.keyPath == "host[0].ocsp_response_file" && $0.message.contains("'certificate' is not") }, "\(orphan)")
        let empty = diagnostics(minimalHost + "ocsp_response_file = \"\"\n")
        #expect(empty.contains { $0.keyPath == "host[0].ocsp_response_file" && $0.message.contains("non-empty string") }, "\(empty)")
    }

    @Test func metricsExportEachResponsesNextUpdate() throws {
        let fixture = try OCSPFixture.shared()
        let table = try load(fixture.configFile(fixture.toml("""
            certificate = "\(try fixture.chain(fixture.pki.www))"
            key = "\(fixture.pki.www.key)"
            ocsp_response_file = "\(try fixture.response(for: fixture.pki.www))"
            """)))
        let staple = try #require(table.hosts[0].ocspStaples.first)
        let nextUpdate = try #require(staple.nextUpdate)
        let metrics = ProxyMetrics(workers: 1)
        metrics.updateCertificates(from: table)
        let text = metrics.renderText()
        #expect(text.contains("portcullis_ocsp_response_next_update_timestamp_seconds{host=\"www\",subject=\"/CN=www.example.com\",serial=\"\(staple.serial)\"} \(nextUpdate)\n"), "\(text)")

        // The stapled counter counts admitted connections that got a staple, when they close.
        let worker = metrics.workerMetrics[0]
        let stapled = try self.staple(table)
        let plain = try self.staple(table, request: false)
        for outcome in [stapled.outcome, plain.outcome] {
            let counters = worker.hostAdmitted("www", resumed: false)
            worker.connectionClosed(.completed, host: counters, tls: outcome.server, handshakeError: nil) { "www" }
        }
        #expect(metrics.renderText().contains("portcullis_ocsp_stapled_total{host=\"www\"} 1\n"))
    }
}

/// A value set from a `@Sendable` callback and read after the handshake.
final class LockedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
