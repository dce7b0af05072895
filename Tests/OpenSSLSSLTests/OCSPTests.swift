import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

@Suite struct OCSPTests {
    /// A minimal DER OCSPResponse: responseStatus = unauthorized (6), no body (pyOpenSSL's test value).
    static let response: [UInt8] = [0x30, 0x03, 0x0a, 0x01, 0x06]

    struct Seen: Sendable, Equatable {
        let side: String
        let bytes: [UInt8]
        let data: String?
    }

    private func pair(
        _ pki: TestPKI, request: Bool = true,
        server: Context.OCSPServerCallback? = nil, serverData: String? = nil,
        client: Context.OCSPClientCallback? = nil, clientData: String? = nil
    ) throws -> (client: Connection, server: Connection) {
        let serverContext = try pki.makeServerContext()
        if let server { try serverContext.setOCSPServerCallback(server, data: serverData) }
        let clientContext = try pki.makeClientContext()
        if let client { try clientContext.setOCSPClientCallback(client, data: clientData) }
        let clientConnection = try Connection(context: clientContext)
        if request { try clientConnection.requestOCSP() }
        return (clientConnection, try Connection(context: serverContext))
    }

    @Test func callbacksArentCalledByDefault() throws {
        let pki = try TestPKI.shared()
        let seen = Recorder<String>()
        let (client, server) = try pair(pki, request: false,
                                        server: { _, _ in seen.append("server"); return Self.response },
                                        client: { _, _, _ in seen.append("client"); return true })
        try handshake(client: client, server: server)
        #expect(seen.values.isEmpty)
    }

    @Test func clientNegotiatesWithoutServer() throws {
        let pki = try TestPKI.shared()
        let seen = Recorder<Seen>()
        let (client, server) = try pair(pki, client: { _, bytes, _ in seen.append(Seen(side: "client", bytes: bytes, data: nil)); return true })
        try handshake(client: client, server: server)
        #expect(seen.values == [Seen(side: "client", bytes: [], data: nil)])
    }

    @Test func staplingRoundTripWithConnectionsAndOpaqueData() throws {
        let pki = try TestPKI.shared()
        let seen = Recorder<Seen>()
        let connections = Recorder<ObjectIdentifier>()
        let (client, server) = try pair(
            pki,
            server: { connection, data in
                connections.append(ObjectIdentifier(connection))
                seen.append(Seen(side: "server", bytes: [], data: data as? String))
                return Self.response
            }, serverData: "server data",
            client: { connection, bytes, data in
                connections.append(ObjectIdentifier(connection))
                seen.append(Seen(side: "client", bytes: bytes, data: data as? String))
                return true
            }, clientData: "client data")
        try handshake(client: client, server: server)
        #expect(seen.values == [Seen(side: "server", bytes: [], data: "server data"),
                                Seen(side: "client", bytes: Self.response, data: "client data")])
        #expect(connections.values == [ObjectIdentifier(server), ObjectIdentifier(client)])
    }

    @Test func serverReturningNothingStaplesNothing() throws {
        let pki = try TestPKI.shared()
        let seen = Recorder<[UInt8]>()
        let (client, server) = try pair(pki, server: { _, _ in [] }, client: { _, bytes, _ in seen.append(bytes); return true })
        try handshake(client: client, server: server)
        #expect(seen.values == [[]])
    }

    @Test func clientReturningFalseTerminatesTheHandshake() throws {
        let pki = try TestPKI.shared()
        let (client, server) = try pair(pki, server: { _, _ in Self.response }, client: { _, _, _ in false })
        let error = try #require(handshakeError(client: client, server: server))
        #expect(openSSLEntries(error) != nil, "\(error)")
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func clientErrorBubblesUp() throws {
        let pki = try TestPKI.shared()
        let (client, server) = try pair(pki, server: { _, _ in Self.response }, client: { _, _, _ in throw CallbackMarker("ocsp client") })
        #expect(handshakeError(client: client, server: server) as? CallbackMarker == CallbackMarker("ocsp client"))
    }

    @Test func serverErrorBubblesUp() throws {
        let pki = try TestPKI.shared()
        let (client, server) = try pair(pki, server: { _, _ in throw CallbackMarker("ocsp server") }, client: { _, _, _ in true })
        #expect(handshakeError(client: client, server: server) as? CallbackMarker == CallbackMarker("ocsp server"))
        #expect(OpenSSLErrorQueue.isEmpty)
    }
}
