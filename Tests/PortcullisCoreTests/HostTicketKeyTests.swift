import Foundation
import Logging
import Testing
@testable import OpenSSLSSL
@testable import PortcullisCore

/// Shared ticket-key files: separately compiled tables (standing in for separate instances) resume each
/// other's tickets, and rotation keeps old tickets working.
@Suite struct HostTicketKeyTests {
    let pki: HostPKI
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws { pki = try HostPKI.shared() }

    func keyFile(_ name: String, base64: Bool = false) throws -> String {
        let path = pki.directory + "/\(name)-\(UUID().uuidString).key"
        let key = try TicketKeys.Key.generate().bytes
        let contents = base64 ? Data(Data(key).base64EncodedString().utf8) + Data("\n".utf8) : Data(key)
        try contents.write(to: URL(fileURLWithPath: path))
        return path
    }

    func instance(_ files: [String]) throws(ConfigurationError) -> HostTable {
        var configuration = proxyConfiguration(
            [hostConfiguration("www", pki.www, names: ["www.example.com"]), hostConfiguration("api", pki.api, names: ["api.example.com"])],
            defaultHost: "www")
        configuration.listeners[0].session.cacheSize = 0  // tickets only: no session-ID cache to fall back on
        configuration.ticketKeyFiles = files
        return try HostTable.compile(configuration, logger: logger)
    }

    func ticket(from table: HostTable, version: Int32) throws -> (Session, Context) {
        let clientContext = try Context(method: .tlsClient)
        try clientContext.setMaxProtoVersion(version)
        // Clients keep sessions only with client-side caching on (the session is then marked resumable).
        try clientContext.setSessionCacheMode(SSL.SESS_CACHE_CLIENT)
        let first = try handshake(listener: table.listeners[0], serverName: "www.example.com", clientContext: clientContext)
        #expect(first.succeeded)
        let session = try #require(first.client.getSession())
        #expect(session.hasTicket)
        #expect(session.isResumable)
        // Close cleanly: OpenSSL drops (marks not resumable) the session of a client freed without close_notify.
        _ = try first.client.shutdown()
        return (session, clientContext)
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func instancesSharingKeyFilesResumeEachOthersTickets(version: Int32) throws {
        let current = try keyFile("current")
        let (session, clientContext) = try ticket(from: try instance([current]), version: version)
        let other = try instance([current])
        let resumed = try handshake(listener: other.listeners[0], serverName: "www.example.com", session: session, clientContext: clientContext)
        #expect(resumed.succeeded)
        #expect(resumed.server.sessionReused())

        let stranger = try instance([try keyFile("unrelated")])
        let notResumed = try handshake(listener: stranger.listeners[0], serverName: "www.example.com", session: session, clientContext: clientContext)
        #expect(notResumed.succeeded)
        #expect(!notResumed.server.sessionReused())
    }

    @Test func rotationKeepsOldTicketsValid() throws {
        let old = try keyFile("old")
        let (session, clientContext) = try ticket(from: try instance([old]), version: SSL.TLS1_3_VERSION)
        let rotated = try instance([try keyFile("new", base64: true), old])
        let resumed = try handshake(listener: rotated.listeners[0], serverName: "www.example.com", session: session, clientContext: clientContext)
        #expect(resumed.server.sessionReused())
        #expect(rotated.listeners[0].context.getTicketKeys()?.keys.count == 2)
    }

    @Test func ticketsDoNotCarrySessionsAcrossHosts() throws {
        let table = try instance([try keyFile("shared")])
        var stricter = proxyConfiguration([hostConfiguration("www", pki.www, names: ["www.example.com"]),
                                           hostConfiguration("api", pki.api, names: ["api.example.com"],
                                                             client: ClientPolicyConfiguration(verify: .require, caFile: pki.ca.certificate))],
                                          defaultHost: "www")
        stricter.ticketKeyFiles = table.configuration.ticketKeyFiles
        stricter.listeners[0].session.cacheSize = 0
        let strictTable = try HostTable.compile(stricter, logger: logger)
        for version in [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION] {
            let (session, clientContext) = try ticket(from: strictTable, version: version)
            let crossHost = try handshake(listener: strictTable.listeners[0], serverName: "api.example.com", session: session, clientContext: clientContext)
            #expect(!crossHost.server.sessionReused())
            #expect(!crossHost.succeeded)  // a full handshake on api requires a client certificate
        }
    }

    @Test func badKeyFilesAreNamed() throws {
        let short = pki.directory + "/short.key"
        try Data(repeating: 1, count: 48).write(to: URL(fileURLWithPath: short))
        #expect(throws: ConfigurationError.self) { try instance([short]) }
        do { _ = try instance([short]) } catch {
            #expect(error.diagnostics.first?.keyPath == "global.ticket_key_files")
            #expect(error.diagnostics.first?.message.contains("must hold exactly 80 bytes") == true)
        }
        let same = try keyFile("same")
        do { _ = try instance([same, same]); Issue.record("expected an error") } catch {
            #expect(error.diagnostics.first?.message.contains("listed twice") == true)
        }
    }
}
