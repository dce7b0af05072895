import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

/// Closes both ends with close_notify. OpenSSL marks the session of a Connection freed without a shutdown
/// as not resumable (`SSL_free` -> `ssl_clear_bad_session`), on both sides.
func closeCleanly(client: Connection, server: Connection) throws {
    _ = try client.shutdown()
    try moveCiphertext(from: client, to: server)
    _ = try server.shutdown()
    try moveCiphertext(from: server, to: client)
}

/// Runs a full handshake and returns the client's resumable session (for TLS 1.3 the client reads once,
/// so it processes the NewSessionTicket), then closes both ends cleanly.
func establishSession(client clientContext: Context, server serverContext: Context) throws -> Session {
    let client = try Connection(context: clientContext)
    let server = try Connection(context: serverContext)
    try handshake(client: client, server: server)
    #expect(!client.sessionReused())
    try moveCiphertext(from: server, to: client)
    #expect(throws: SSLError.wantRead) { try client.recv(1) }
    try closeCleanly(client: client, server: server)
    let session = try #require(client.getSession())
    #expect(session.isResumable)
    return session
}

/// Offers `session` to a fresh server Connection of `serverContext`; returns both ends after the handshake.
@discardableResult
func resume(_ session: Session, client clientContext: Context, server serverContext: Context) throws -> (client: Connection, server: Connection) {
    let client = try Connection(context: clientContext)
    try client.setSession(session)
    let server = try Connection(context: serverContext)
    try handshake(client: client, server: server)
    try moveCiphertext(from: server, to: client)
    #expect(throws: SSLError.wantRead) { try client.recv(1) }
    #expect(client.sessionReused() == server.sessionReused())
    try closeCleanly(client: client, server: server)
    return (client, server)
}

@Suite struct TicketKeysValueTests {
    @Test func parsingAndValidation() throws {
        let key = try TicketKeys.Key.generate()
        #expect(key.bytes.count == 80)
        #expect(try TicketKeys.Key(key.bytes) == key)
        #expect(key.name.count == 16 && key.hmacSecret.count == 32 && key.aesKey.count == 32)
        #expect(throws: SSLError.self) { try TicketKeys.Key([UInt8](repeating: 1, count: 79)) }
        #expect(throws: SSLError.self) { try TicketKeys([]) }
        #expect(throws: SSLError.self) { try TicketKeys([key, key]) }
        let keys = try TicketKeys(serialized: [key.bytes])
        #expect(keys.encryptionKey == key)
    }

    @Test func rotation() throws {
        let k1 = try TicketKeys.Key.generate(), k2 = try TicketKeys.Key.generate(), k3 = try TicketKeys.Key.generate()
        let rotated = try TicketKeys([k1]).rotated(adding: k2).rotated(adding: k3, keeping: 2)
        #expect(rotated.keys == [k3, k2])
        #expect(throws: SSLError.self) { try rotated.rotated(adding: k1, keeping: 0) }
    }
}

@Suite struct TicketResumptionTests {
    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func ticketFromOneContextResumesOnAnotherWithTheSameKeys(version: Int32) throws {
        let pki = try TestPKI.shared()
        let keys = try TicketKeys.generate()
        let first = try pki.makeServerContext(maxVersion: version)
        try first.setTicketKeys(keys)
        let second = try pki.makeServerContext(maxVersion: version)
        try second.setTicketKeys(TicketKeys(serialized: keys.keys.map(\.bytes)))
        let clientContext = try pki.makeClientContext()
        let session = try establishSession(client: clientContext, server: first)
        #expect(session.hasTicket)
        let (client, server) = try resume(session, client: clientContext, server: second)
        #expect(client.sessionReused() && server.sessionReused())
        #expect(client.getProtocolVersion() == version)
        // A third Context with its own keys cannot decrypt the ticket: full handshake.
        let stranger = try pki.makeServerContext(maxVersion: version)
        try stranger.setTicketKeys(TicketKeys.generate())
        #expect(try !resume(session, client: clientContext, server: stranger).client.sessionReused())
        // Neither can OpenSSL's default per-Context keys.
        #expect(try !resume(session, client: clientContext, server: pki.makeServerContext(maxVersion: version)).client.sessionReused())
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func rotatedKeysStillDecryptOldTicketsAndRenewThem(version: Int32) throws {
        let pki = try TestPKI.shared()
        let k1 = try TicketKeys.Key.generate(), k2 = try TicketKeys.Key.generate(), k3 = try TicketKeys.Key.generate()
        let serverContext = try pki.makeServerContext(maxVersion: version)
        try serverContext.setTicketKeys(TicketKeys([k1]))
        let clientContext = try pki.makeClientContext()
        let oldSession = try establishSession(client: clientContext, server: serverContext)
        #expect(serverContext.isFrozen)
        // Rotate on the frozen Context: k2 encrypts, k1 still decrypts.
        try serverContext.setTicketKeys(TicketKeys([k1]).rotated(adding: k2))
        #expect(serverContext.getTicketKeys()?.keys == [k2, k1])
        let (client, _) = try resume(oldSession, client: clientContext, server: serverContext)
        #expect(client.sessionReused())
        // The client got a renewed ticket under k2: it still resumes once k1 is gone.
        let renewed = try #require(client.getSession())
        try serverContext.setTicketKeys(TicketKeys([k3, k2]))
        #expect(try resume(renewed, client: clientContext, server: serverContext).client.sessionReused())
        // The old ticket (k1) no longer resumes.
        #expect(try !resume(oldSession, client: clientContext, server: serverContext).client.sessionReused())
    }

    @Test func firstInstallationNeedsAMutableContext() throws {
        let pki = try TestPKI.shared()
        let context = try pki.makeServerContext()
        _ = try Connection(context: context)
        #expect(throws: SSLError.contextInUse) { try context.setTicketKeys(TicketKeys.generate()) }
        #expect(context.getTicketKeys() == nil)
    }

    @Test func ticketsCanBeTurnedOff() throws {
        let pki = try TestPKI.shared()
        let keys = try TicketKeys.generate()
        let first = try pki.makeServerContext(maxVersion: SSL.TLS1_2_VERSION)
        try first.setTicketKeys(keys)
        try first.setSessionTicketsEnabled(false)
        let second = try pki.makeServerContext(maxVersion: SSL.TLS1_2_VERSION)
        try second.setTicketKeys(keys)
        let clientContext = try pki.makeClientContext()
        let session = try establishSession(client: clientContext, server: first)
        #expect(!session.hasTicket)
        // Without a ticket only the first Context's session cache could resume it.
        #expect(try !resume(session, client: clientContext, server: second).client.sessionReused())
        #expect(try resume(session, client: clientContext, server: first).client.sessionReused())
        #expect(first.sessNumber() >= 1)
    }
}
