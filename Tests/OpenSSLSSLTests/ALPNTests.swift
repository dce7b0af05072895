import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

@Suite struct ALPNTests {
    private func pair(_ pki: TestPKI, select: Context.ALPNSelectCallback?, offer: [String]? = ["http/1.1", "spdy/2"]) throws -> (client: Connection, server: Connection) {
        let serverContext = try pki.makeServerContext()
        if let select { try serverContext.setALPNSelectCallback(select) }
        let clientContext = try pki.makeClientContext()
        if let offer { try clientContext.setALPNProtos(offer) }
        return (try Connection(context: clientContext), try Connection(context: serverContext))
    }

    @Test func success() throws {
        let pki = try TestPKI.shared()
        let offered = Recorder<[[UInt8]]>()
        let (client, server) = try pair(pki, select: { _, protocols in
            offered.append(protocols)
            return .select(Array("spdy/2".utf8))
        })
        try handshake(client: client, server: server)
        #expect(offered.values == [[Array("http/1.1".utf8), Array("spdy/2".utf8)]])
        #expect(client.getALPNProtoNegotiated() == Array("spdy/2".utf8))
        #expect(server.getALPNProtoNegotiated() == Array("spdy/2".utf8))
    }

    @Test func emptyOrOversizedListIsRefused() throws {
        let context = try Context(method: .tls)
        #expect(throws: SSLError.self) { try context.setALPNProtos([[UInt8]]()) }
        #expect(throws: SSLError.self) { try context.setALPNProtos([[]]) }
        #expect(throws: SSLError.self) { try context.setALPNProtos([Array(repeating: 0x61, count: 256)]) }
    }

    @Test func offerSetOnTheConnection() throws {
        let pki = try TestPKI.shared()
        let (client, server) = try pair(pki, select: { _, _ in .select(Array("spdy/2".utf8)) }, offer: nil)
        try client.setALPNProtos(["http/1.1", "spdy/2"])
        try handshake(client: client, server: server)
        #expect(client.getALPNProtoNegotiated() == Array("spdy/2".utf8))
    }

    @Test func abortFailsTheHandshake() throws {
        let pki = try TestPKI.shared()
        let (client, server) = try pair(pki, select: { _, _ in .abort })
        let error = try #require(handshakeError(client: client, server: server))
        #expect(openSSLEntries(error) != nil, "\(error)")
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func noOverlapContinuesWithoutALPN() throws {
        let pki = try TestPKI.shared()
        let (client, server) = try pair(pki, select: { _, _ in SSL.NO_OVERLAPPING_PROTOCOLS })
        try handshake(client: client, server: server)
        #expect(client.getALPNProtoNegotiated().isEmpty && server.getALPNProtoNegotiated().isEmpty)
    }

    @Test func serverWithoutCallback() throws {
        let pki = try TestPKI.shared()
        let (client, server) = try pair(pki, select: nil)
        try handshake(client: client, server: server)
        #expect(client.getALPNProtoNegotiated().isEmpty)
    }

    @Test func callbackErrorIsRethrown() throws {
        let pki = try TestPKI.shared()
        let (client, server) = try pair(pki, select: { _, _ in throw CallbackMarker("alpn") })
        #expect(handshakeError(client: client, server: server) as? CallbackMarker == CallbackMarker("alpn"))
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func choosingAProtocolTheClientDidNotOfferFails() throws {
        let pki = try TestPKI.shared()
        let (client, server) = try pair(pki, select: { _, _ in .select(Array("h2".utf8)) })
        let error = try #require(handshakeError(client: client, server: server))
        guard case SSLError.invalidArgument(let message) = error else {
            Issue.record("expected invalidArgument, got \(error)")
            return
        }
        #expect(message.contains("did not offer"))
    }
}
