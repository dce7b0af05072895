import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

@Suite struct CallbackCookieTests {
    private func dtlsPair(
        generate: @escaping Context.CookieGenerateCallback, verify: @escaping Context.CookieVerifyCallback
    ) throws -> (client: Connection, server: Connection) {
        let pki = try TestPKI.shared()
        let serverContext = try pki.makeServerContext(method: .dtlsServer)
        try serverContext.setOptions(SSL.OP_NO_QUERY_MTU | SSL.OP_COOKIE_EXCHANGE)
        try serverContext.setCookieGenerateCallback(generate)
        try serverContext.setCookieVerifyCallback(verify)
        let clientContext = try pki.makeClientContext(method: .dtlsClient)
        try clientContext.setOptions(SSL.OP_NO_QUERY_MTU)
        let client = try Connection(context: clientContext)
        let server = try Connection(context: serverContext)
        try client.setCiphertextMTU(1500)
        try server.setCiphertextMTU(1500)
        return (client, server)
    }

    /// Stateless cookie exchange with `DTLSv1_listen`, then the rest of the handshake.
    private func listenAndHandshake(client: Connection, server: Connection) throws {
        client.setConnectState()
        #expect(try !handshakeStepDone(client))
        try moveCiphertext(from: client, to: server)
        #expect(throws: SSLError.wantRead) { try server.dtlsv1Listen() }  // sent HelloVerifyRequest
        try moveCiphertext(from: server, to: client)
        #expect(try !handshakeStepDone(client))                         // ClientHello with the cookie
        try moveCiphertext(from: client, to: server)
        try server.dtlsv1Listen()
        var clientDone = false, serverDone = false
        for _ in 0..<50 where !(clientDone && serverDone) {
            if !serverDone { serverDone = try handshakeStepDone(server) }
            try moveCiphertext(from: server, to: client)
            if !clientDone { clientDone = try handshakeStepDone(client) }
            try moveCiphertext(from: client, to: server)
        }
        #expect(clientDone && serverDone)
    }

    @Test func cookieRoundTrip() throws {
        let cookie: [UInt8] = Array("a cookie from the server".utf8)
        let verified = Recorder<[UInt8]>()
        let generatedFor = Recorder<ObjectIdentifier>()
        let (client, server) = try dtlsPair(
            generate: { connection in generatedFor.append(ObjectIdentifier(connection)); return cookie },
            verify: { _, received in verified.append(received); return received == cookie })
        try listenAndHandshake(client: client, server: server)
        #expect(generatedFor.values == [ObjectIdentifier(server)])
        // DTLSv1_listen checks the cookie, and the handshake checks the same ClientHello again.
        #expect(!verified.values.isEmpty && verified.values.allSatisfy { $0 == cookie })
        _ = try client.send(Array("ping".utf8))
        try moveCiphertext(from: client, to: server)
        #expect(try server.recv(10) == Array("ping".utf8))
        #expect(client.getProtocolVersionName() == "DTLSv1.2")
    }

    @Test func tooLongCookieIsAnError() throws {
        let (client, server) = try dtlsPair(generate: { _ in [UInt8](repeating: 7, count: 256) }, verify: { _, _ in true })
        client.setConnectState()
        _ = try handshakeStepDone(client)
        try moveCiphertext(from: client, to: server)
        do {
            try server.dtlsv1Listen()
            Issue.record("a 256-byte cookie was accepted")
        } catch SSLError.invalidArgument(let message) {
            #expect(message.contains("256"))
        }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func generateErrorIsRethrown() throws {
        let (client, server) = try dtlsPair(generate: { _ in throw CallbackMarker("cookie") }, verify: { _, _ in true })
        client.setConnectState()
        _ = try handshakeStepDone(client)
        try moveCiphertext(from: client, to: server)
        #expect(throws: CallbackMarker("cookie")) { try server.dtlsv1Listen() }
    }

    @Test func verifyErrorIsRethrown() throws {
        let (client, server) = try dtlsPair(generate: { _ in [1, 2, 3] }, verify: { _, _ in throw CallbackMarker("verify cookie") })
        client.setConnectState()
        _ = try handshakeStepDone(client)
        try moveCiphertext(from: client, to: server)
        #expect(throws: SSLError.wantRead) { try server.dtlsv1Listen() }
        try moveCiphertext(from: server, to: client)
        _ = try handshakeStepDone(client)
        try moveCiphertext(from: client, to: server)
        #expect(throws: CallbackMarker("verify cookie")) { try server.dtlsv1Listen() }
    }
}
