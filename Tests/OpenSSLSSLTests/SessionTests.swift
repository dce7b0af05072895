import Testing
@testable import OpenSSLCrypto
@testable import OpenSSLSSL

/// Session get/set, the same-Context rule and resumption (pyOpenSSL's session tests, plus resumption over
/// TLS 1.2 with ids and tickets and over TLS 1.3 with tickets).
@Suite struct SessionTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI.shared() }

    @Test func noSessionBeforeTheHandshake() throws {
        let connection = try Connection(context: pki.makeClientContext())
        #expect(connection.getSession() == nil)
        #expect(!connection.sessionReused())
    }

    @Test func bothEndsHaveASessionAfterTheHandshake() throws {
        let (client, server) = try pki.connectedMemoryPair()
        let serverSession = try #require(server.getSession())
        let clientSession = try #require(client.getSession())
        #expect(serverSession.context === server.getContext())
        #expect(clientSession.context === client.getContext())
        #expect(serverSession.protocolVersion == SSL.TLS1_3_VERSION)
    }

    @Test func sessionFromAnotherContextIsRefused() throws {
        let (client, _) = try pki.connectedMemoryPair()
        let session = try #require(client.getSession())
        let other = try Connection(context: pki.makeClientContext())
        #expect {
            try other.setSession(session)
        } throws: { error in
            if case SSLError.invalidArgument = error { return true }
            return false
        }
        // The same Context accepts it.
        let sibling = try Connection(context: client.getContext())
        try sibling.setSession(session)
    }

    /// Two handshakes: the second offers the first's session. Returns (first client, second client, second server).
    func resume(
        serverContext: Context, clientContext: Context, readTicketsFirst: Bool
    ) throws -> (first: Connection, second: Connection, secondServer: Connection, offered: Session, wasResumable: Bool) {
        let firstServer = try Connection(context: serverContext)
        let first = try Connection(context: clientContext)
        try handshake(client: first, server: firstServer)
        if readTicketsFirst {
            // TLS 1.3 sends NewSessionTicket after the handshake: the client only has it after reading.
            #expect(throws: SSLError.wantRead) { try first.recv(100) }
        }
        let session = try #require(first.getSession())
        let wasResumable = session.isResumable
        let secondServer = try Connection(context: serverContext)
        let second = try Connection(context: clientContext)
        try second.setSession(session)
        try handshake(client: second, server: secondServer)
        return (first, second, secondServer, session, wasResumable)
    }

    @Test func tls12ResumptionBySessionID() throws {
        let serverContext = try pki.makeServerContext(maxVersion: SSL.TLS1_2_VERSION)
        _ = try serverContext.setOptions(SSL.OP_NO_TICKET)
        let clientContext = try pki.makeClientContext()
        let (first, second, secondServer, session, _) = try resume(
            serverContext: serverContext, clientContext: clientContext, readTicketsFirst: false)
        #expect(!first.sessionReused())
        #expect(second.sessionReused())
        #expect(secondServer.sessionReused())
        #expect(!session.hasTicket)
        #expect(!session.id.isEmpty)
        // Same master secret proves the session was resumed (pyOpenSSL's test_client_set_session).
        #expect(first.masterKey() == second.masterKey())
        #expect(second.getProtocolVersion() == SSL.TLS1_2_VERSION)
    }

    @Test func tls12ResumptionByTicket() throws {
        let serverContext = try pki.makeServerContext(maxVersion: SSL.TLS1_2_VERSION)
        _ = try serverContext.setSessionCacheMode(SSL.SESS_CACHE_OFF)
        let clientContext = try pki.makeClientContext()
        let (first, second, secondServer, session, _) = try resume(
            serverContext: serverContext, clientContext: clientContext, readTicketsFirst: false)
        #expect(session.hasTicket)
        #expect(second.sessionReused())
        #expect(secondServer.sessionReused())
        #expect(first.masterKey() == second.masterKey())
    }

    @Test func tls13ResumptionNeedsTheTicketToBeRead() throws {
        let serverContext = try pki.makeServerContext()
        let clientContext = try pki.makeClientContext()
        // Before reading, the client's session is not resumable yet.
        let server = try Connection(context: serverContext)
        let client = try Connection(context: clientContext)
        try handshake(client: client, server: server)
        #expect(client.getSession()?.isResumable == false)

        let (_, second, secondServer, session, wasResumable) = try resume(
            serverContext: serverContext, clientContext: clientContext, readTicketsFirst: true)
        #expect(wasResumable)
        #expect(session.hasTicket)
        #expect(second.sessionReused())
        #expect(secondServer.sessionReused())
        #expect(second.getProtocolVersion() == SSL.TLS1_3_VERSION)
    }

    @Test func unresumableSessionGivesAFullHandshake() throws {
        let serverContext = try pki.makeServerContext()
        let clientContext = try pki.makeClientContext()
        let (_, second, _, _, wasResumable) = try resume(
            serverContext: serverContext, clientContext: clientContext, readTicketsFirst: false)
        #expect(!wasResumable)
        #expect(!second.sessionReused())
    }
}
