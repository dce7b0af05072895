import Foundation
import Logging
import OpenSSLCrypto
import Testing
@testable import OpenSSLSSL
@testable import PortcullisCore

/// The contents of `client_ca_file` / `client_ca_dir` are part of a host's session-id context: after a
/// reload that changed the CA set (even under the same file names), no session verified against the old set
/// resumes, so every client is verified against the new set.
@Suite struct HostTrustAnchorTests {
    let pki: HostPKI
    let crl: CRLPKI
    let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws {
        pki = try HostPKI.shared()
        crl = try CRLPKI.shared()
    }

    private func file(_ contents: String) throws -> String {
        let path = crl.directory + "/trust-\(UUID().uuidString).pem"
        try contents.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    private func pem(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    private func configuration(caFile: String, ticketKeys: String) -> ProxyConfiguration {
        var configuration = proxyConfiguration([
            hostConfiguration("www", pki.www, names: ["www.example.com"]),
            hostConfiguration("api", pki.api, names: ["api.example.com"],
                              client: ClientPolicyConfiguration(verify: .require, caFile: caFile)),
        ], defaultHost: "www")
        configuration.ticketKeyFiles = [ticketKeys]
        return configuration
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func aSessionVerifiedAgainstARemovedCADoesNotResume(version: Int32) throws {
        let keys = crl.directory + "/tickets-\(UUID().uuidString).key"
        try Data(try TicketKeys.Key.generate().bytes).write(to: URL(fileURLWithPath: keys))
        // The client's CA and an unrelated one, in one bundle.
        let caFile = try file(try pem(crl.ca.certificate) + pem(pki.otherCA.certificate))
        let before = try HostTable.compile(configuration(caFile: caFile, ticketKeys: keys), logger: quiet)
        let clientContext = try Context(method: .tlsClient)
        try clientContext.setMaxProtoVersion(version)
        try clientContext.setSessionCacheMode(SSL.SESS_CACHE_CLIENT)
        try clientContext.useCertificateChainFile(crl.good.certificate)
        try clientContext.usePrivateKeyFile(crl.good.key)
        let first = try handshake(listener: before.listeners[0], serverName: "api.example.com", clientContext: clientContext)
        #expect(first.succeeded, "\(String(describing: first.serverError))")
        let session = try #require(first.client.getSession())
        _ = try first.client.shutdown()

        // Same bundle, new compile (a reload): the session resumes, so the check below is not vacuous.
        let same = try HostTable.compile(configuration(caFile: caFile, ticketKeys: keys), logger: quiet)
        #expect(same.hosts[1].sessionIDContext == before.hosts[1].sessionIDContext)
        let resumed = try handshake(listener: same.listeners[0], serverName: "api.example.com", session: session, clientContext: clientContext)
        #expect(resumed.succeeded && resumed.server.sessionReused())

        // The client's CA is taken out of the bundle, same path: no resumption, and the full handshake fails.
        try pem(pki.otherCA.certificate).write(toFile: caFile, atomically: false, encoding: .utf8)
        let after = try HostTable.compile(configuration(caFile: caFile, ticketKeys: keys), logger: quiet)
        #expect(after.hosts[1].sessionIDContext != before.hosts[1].sessionIDContext)
        let refused = try handshake(listener: after.listeners[0], serverName: "api.example.com", session: session, clientContext: clientContext)
        #expect(!refused.server.sessionReused())
        #expect(!refused.succeeded)
    }

    @Test func theCADirectoryDigestFollowsItsFilesNamesAndContents() throws {
        let directory = crl.directory + "/cadir-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: crl.ca.certificate, toPath: directory + "/a.pem")
        func digest() throws -> [UInt8] { try CredentialLoader.trustAnchorsDigest(caFile: nil, caDirectory: directory) }
        let first = try digest()
        #expect(try digest() == first)
        // Another file.
        try FileManager.default.copyItem(atPath: pki.otherCA.certificate, toPath: directory + "/b.pem")
        let added = try digest()
        #expect(added != first)
        // Same names, other contents.
        try pem(pki.otherCA.certificate).write(toFile: directory + "/a.pem", atomically: false, encoding: .utf8)
        #expect(try digest() != added)
        // A missing directory is an error naming it.
        #expect(throws: CredentialLoader.Failure.self) { try CredentialLoader.trustAnchorsDigest(caFile: nil, caDirectory: directory + "/missing") }
    }
}
