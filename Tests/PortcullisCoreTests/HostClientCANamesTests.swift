import Foundation
import Logging
import OpenSSLCrypto
import Testing
@testable import OpenSSLSSL
@testable import PortcullisCore

/// The CA names a client sees in the CertificateRequest come from the host selected by SNI, not from the
/// listener context the handshake started on (which has none).
@Suite struct HostClientCANamesTests {
    let pki: HostPKI
    let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws { pki = try HostPKI.shared() }

    func table(_ verify: ClientVerifyMode) throws -> HostTable {
        try HostTable.compile(proxyConfiguration([
            hostConfiguration("www", pki.www, names: ["www.example.com"]),
            hostConfiguration("api", pki.api, names: ["api.example.com"], client: ClientPolicyConfiguration(verify: verify, caFile: pki.ca.certificate)),
        ], defaultHost: "www"), logger: quiet)
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION], [ClientVerifyMode.require, .optional])
    func certificateRequestNamesTheSelectedHostsCAs(version: Int32, verify: ClientVerifyMode) throws {
        let table = try table(verify)
        #expect(table.listeners[0].context.getClientCAList().isEmpty)  // the context the handshake starts on
        let outcome = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientCertificate: pki.client) {
            try $0.setMaxProtoVersion(version)
        }
        #expect(outcome.succeeded)
        #expect(table.host(for: outcome.server)?.name == "api")
        let names = try outcome.client.getClientCAList()
        #expect(names.map(\.commonName) == ["Portcullis Host Test CA"])
    }

    @Test func hostsWithoutClientCertificatesSendNoRequest() throws {
        let table = try table(.require)
        let outcome = try handshake(listener: table.listeners[0], serverName: "www.example.com", clientCertificate: pki.client)
        #expect(outcome.succeeded)
        #expect(try outcome.client.getClientCAList().isEmpty)
        #expect(outcome.server.getPeerCertificate() == nil)
    }
}
