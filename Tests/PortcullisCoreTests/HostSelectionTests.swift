import Foundation
import Logging
import OpenSSLCrypto
import Testing
@testable import OpenSSLSSL
@testable import PortcullisCore

/// SNI selection through real in-process handshakes (memory BIOs), with certificates made by `openssl`.
@Suite struct HostSelectionTests {
    let pki: HostPKI
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws { pki = try HostPKI.shared() }

    func table(strictSNI: Bool = false, defaultHost: String? = "fallback", apiClient: ClientPolicyConfiguration? = nil) throws -> HostTable {
        var hosts = [
            hostConfiguration("www", pki.www, names: ["www.example.com"]),
            hostConfiguration("wild", pki.wild, names: ["*.example.com"]),
            hostConfiguration("fallback", pki.fallback, names: ["fallback.test"]),
        ]
        if let apiClient {
            hosts.append(hostConfiguration("api", pki.api, names: ["api.example.com"], client: apiClient))
        }
        return try HostTable.compile(proxyConfiguration(hosts, defaultHost: defaultHost, strictSNI: strictSNI), logger: logger)
    }

    /// The subject CN of the certificate the server presented.
    func servedName(_ outcome: HandshakeOutcome) throws -> String? {
        let certificate = try #require(outcome.client.getPeerCertificate())
        return try CertificateNames.identity(of: certificate).commonNames.first
    }

    @Test(arguments: [
        ("www.example.com", "www", "www.example.com"),
        ("WWW.Example.COM.", "www", "www.example.com"),
        ("shop.example.com", "wild", "*.example.com"),
        ("example.com", "fallback", "fallback.test"),
        ("a.b.example.com", "fallback", "fallback.test"),
        ("fallback.test", "fallback", "fallback.test"),
    ])
    func selectsHostAndCertificateByName(serverName: String, host: String, certificateCN: String) throws {
        let table = try table()
        let listener = try #require(table.listeners.first)
        let outcome = try handshake(listener: listener, serverName: serverName)
        #expect(outcome.succeeded, "\(String(describing: outcome.serverError))")
        #expect(table.host(for: outcome.server)?.name == host)
        #expect(try servedName(outcome) == certificateCN)
    }

    @Test func clientWithoutSNIGetsTheDefaultHost() throws {
        let table = try table()
        let outcome = try handshake(listener: table.listeners[0], serverName: nil)
        #expect(outcome.succeeded)
        #expect(table.host(for: outcome.server)?.name == "fallback")
        #expect(try servedName(outcome) == "fallback.test")
    }

    @Test func strictSNIRefusesUnknownNamesWithUnrecognizedName() throws {
        let table = try table(strictSNI: true)
        let outcome = try handshake(listener: table.listeners[0], serverName: "unknown.test")
        let serverError = try #require(outcome.serverError)
        #expect(serverError as? HostSelectionError == .unrecognizedName("unknown.test", listener: "test"))
        #expect("\(String(describing: outcome.clientError))".contains("unrecognized name"))
        #expect(table.host(for: outcome.server) == nil)
        // Known names and clients without SNI are still served.
        #expect(try handshake(listener: table.listeners[0], serverName: "www.example.com").succeeded)
        #expect(try handshake(listener: table.listeners[0], serverName: nil).succeeded)
    }

    @Test func withoutDefaultHostClientsWithoutSNIAreRefused() throws {
        let hosts = [hostConfiguration("www", pki.www, names: ["www.example.com"])]
        var configuration = proxyConfiguration(hosts, defaultHost: nil, strictSNI: true)
        configuration.listeners[0].defaultHost = nil
        let table = try HostTable.compile(configuration, logger: logger)
        let outcome = try handshake(listener: table.listeners[0], serverName: nil)
        #expect(outcome.serverError as? HostSelectionError == .unrecognizedName(nil, listener: "test"))
    }

    @Test func verifySettingsAreReappliedAfterTheSwitch() throws {
        let policy = ClientPolicyConfiguration(verify: .require, caFile: pki.ca.certificate, verifyDepth: 3)
        let table = try table(apiClient: policy)
        // The listener context itself asks for no certificate; the api host does.
        #expect(table.listeners[0].context.getVerifyMode() == SSL.VERIFY_NONE)
        let withCertificate = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientCertificate: pki.client)
        #expect(withCertificate.succeeded)
        #expect(withCertificate.server.getVerifyMode() == SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
        #expect(withCertificate.server.getVerifyDepth() == 3)
        #expect(withCertificate.server.getPeerCertificate() != nil)
        #expect(table.host(for: withCertificate.server)?.admits(withCertificate.server) == .allow)

        let without = try handshake(listener: table.listeners[0], serverName: "api.example.com")
        #expect(!without.succeeded)
        let wrongCA = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientCertificate: pki.strangerClient)
        #expect(!wrongCA.succeeded)
        // Other hosts on the same listener still need no certificate.
        let www = try handshake(listener: table.listeners[0], serverName: "www.example.com")
        #expect(www.succeeded)
        #expect(www.server.getVerifyMode() == SSL.VERIFY_NONE)
    }

    @Test func sessionIDContextDiffersPerHostAndPolicy() throws {
        let base = hostConfiguration("api", pki.api, names: ["api.example.com"])
        var stricter = base
        stricter.client = ClientPolicyConfiguration(verify: .require, caFile: pki.ca.certificate)
        var renamed = base
        renamed.name = "api2"
        let contexts = [base, stricter, renamed].map(HostTableCompiler.sessionIDContext(for:))
        #expect(Set(contexts).count == 3)
        #expect(contexts.allSatisfy { $0.count == 32 })
        #expect(HostTableCompiler.sessionIDContext(for: base) == contexts[0])  // stable across compiles and instances
        let table = try table(apiClient: stricter.client)
        #expect(Set(table.hosts.map(\.sessionIDContext)).count == table.hosts.count)
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func sessionsResumeOnTheirHostButNotOnAStricterOne(version: Int32) throws {
        let policy = ClientPolicyConfiguration(verify: .require, caFile: pki.ca.certificate)
        let table = try table(apiClient: policy)
        let listener = table.listeners[0]
        let clientContext = try Context(method: .tlsClient)
        try clientContext.setMaxProtoVersion(version)
        try clientContext.setSessionCacheMode(SSL.SESS_CACHE_CLIENT)
        let first = try handshake(listener: listener, serverName: "www.example.com", clientContext: clientContext)
        #expect(first.succeeded)
        let session = try #require(first.client.getSession())
        // Same host: resumed.
        let again = try handshake(listener: listener, serverName: "www.example.com", session: session, clientContext: clientContext)
        #expect(again.succeeded)
        #expect(again.server.sessionReused())
        // Host with client_verify = require: the www session must not be resumed (it carries no client
        // certificate), so the full handshake demands one and fails without.
        let crossHost = try handshake(listener: listener, serverName: "api.example.com", session: session, clientContext: clientContext)
        #expect(!crossHost.server.sessionReused())
        #expect(!crossHost.succeeded)
    }

    @Test func rsaAndECDSACertificatesAreBothServed() throws {
        var host = hostConfiguration("api", pki.api, names: ["api.example.com"], tls: TLSSettings(maxVersion: .tls1_2))
        host.certificates.append(CertificateConfiguration(chainFile: pki.apiRSA.certificate, keyFile: pki.apiRSA.key))
        let table = try HostTable.compile(proxyConfiguration([host], defaultHost: "api"), logger: logger)
        let rsa = try handshake(listener: table.listeners[0], serverName: "api.example.com") { try $0.setCipherList("ECDHE-RSA-AES128-GCM-SHA256") }
        #expect(rsa.succeeded)
        #expect(rsa.client.getCipherName() == "ECDHE-RSA-AES128-GCM-SHA256")  // only possible with the RSA certificate
        let ecdsa = try handshake(listener: table.listeners[0], serverName: "api.example.com") { try $0.setCipherList("ECDHE-ECDSA-AES128-GCM-SHA256") }
        #expect(ecdsa.succeeded)
        #expect(ecdsa.client.getCipherName() == "ECDHE-ECDSA-AES128-GCM-SHA256")
    }

    @Test func perHostVersionLimitsApplyAfterSelection() throws {
        let hosts = [
            hostConfiguration("modern", pki.www, names: ["www.example.com"], tls: TLSSettings(minVersion: .tls1_3)),
            hostConfiguration("fallback", pki.fallback, names: ["fallback.test"]),
        ]
        let table = try HostTable.compile(proxyConfiguration(hosts, defaultHost: "fallback"), logger: logger)
        let old = try handshake(listener: table.listeners[0], serverName: "www.example.com") { try $0.setMaxProtoVersion(SSL.TLS1_2_VERSION) }
        #expect(!old.succeeded)
        let fine = try handshake(listener: table.listeners[0], serverName: "fallback.test") { try $0.setMaxProtoVersion(SSL.TLS1_2_VERSION) }
        #expect(fine.succeeded)
        #expect(fine.server.getProtocolVersionName() == "TLSv1.2")
    }

    @Test func alpnUsesServerPreference() throws {
        let hosts = [hostConfiguration("www", pki.www, names: ["www.example.com"], tls: TLSSettings(alpn: ["h2", "http/1.1"]))]
        let table = try HostTable.compile(proxyConfiguration(hosts, defaultHost: "www"), logger: logger)
        let both = try handshake(listener: table.listeners[0], serverName: "www.example.com") { try $0.setALPNProtos(["http/1.1", "h2"]) }
        #expect(both.server.getALPNProtoNegotiated() == Array("h2".utf8))
        let none = try handshake(listener: table.listeners[0], serverName: "www.example.com") { try $0.setALPNProtos(["imap"]) }
        #expect(none.succeeded)
        #expect(none.server.getALPNProtoNegotiated().isEmpty)
    }
}
