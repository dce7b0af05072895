import Testing
@testable import OpenSSLCrypto
@testable import OpenSSLSSL

/// DTLS over memory BIOs (pyOpenSSL's TestDTLS): cookie exchange with `dtlsv1Listen`, handshake, data,
/// timers and MTU.
@Suite struct ConnectionDTLSTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI.shared() }

    func makePair() throws -> (client: Connection, server: Connection) {
        let serverContext = try pki.makeServerContext(method: .dtls)
        _ = try serverContext.setOptions(SSL.OP_NO_QUERY_MTU | SSL.OP_COOKIE_EXCHANGE)
        try serverContext.setCookieGenerateCallback { _ in Array("portcullis-cookie".utf8) }
        try serverContext.setCookieVerifyCallback { _, cookie in cookie == Array("portcullis-cookie".utf8) }
        let clientContext = try pki.makeClientContext(method: .dtls)
        _ = try clientContext.setOptions(SSL.OP_NO_QUERY_MTU)
        let server = try Connection(context: serverContext)
        server.setAcceptState()
        let client = try Connection(context: clientContext)
        client.setConnectState()
        // With OP_NO_QUERY_MTU, OpenSSL cannot learn the MTU from a memory BIO: it must be given.
        try server.setCiphertextMTU(1400)
        try client.setCiphertextMTU(1400)
        return (client, server)
    }

    @Test func cookieExchangeHandshakeAndData() throws {
        let (client, server) = try makePair()
        #expect(throws: SSLError.wantRead) { try client.doHandshake() }
        // The first ClientHello has no cookie: the server answers HelloVerifyRequest and keeps listening.
        #expect(client.dtlsv1GetTimeout() != nil)
        try moveCiphertext(from: client, to: server)
        #expect(throws: SSLError.wantRead) { try server.dtlsv1Listen() }
        try moveCiphertext(from: server, to: client)
        #expect(throws: SSLError.wantRead) { try client.doHandshake() }
        try moveCiphertext(from: client, to: server)
        try server.dtlsv1Listen()

        var clientDone = false
        var serverDone = false
        for _ in 0..<50 where !(clientDone && serverDone) {
            if !serverDone { serverDone = try handshakeStepDone(server) }
            try moveCiphertext(from: server, to: client)
            if !clientDone { clientDone = try handshakeStepDone(client) }
            try moveCiphertext(from: client, to: server)
        }
        #expect(clientDone && serverDone)
        #expect(client.getProtocolVersionName() == "DTLSv1.2")
        #expect(client.getVerifyResult() == 0)

        try client.send(Array("datagram".utf8))
        try moveCiphertext(from: client, to: server)
        #expect(try server.recv(100) == Array("datagram".utf8))

        try client.setCiphertextMTU(1200)
        let cleartext = client.getCleartextMTU()
        #expect(cleartext > 1000 && cleartext < 1200)
        #expect(try client.dtlsv1HandleTimeout() == false)
    }

    @Test func cookieCallbackErrorIsRethrownFromListen() throws {
        let serverContext = try pki.makeServerContext(method: .dtls)
        _ = try serverContext.setOptions(SSL.OP_NO_QUERY_MTU | SSL.OP_COOKIE_EXCHANGE)
        try serverContext.setCookieGenerateCallback { _ in throw DTLSCookieFailure() }
        try serverContext.setCookieVerifyCallback { _, _ in true }
        let server = try Connection(context: serverContext)
        server.setAcceptState()
        let client = try Connection(context: pki.makeClientContext(method: .dtls))
        client.setConnectState()
        try client.setCiphertextMTU(1400)
        try server.setCiphertextMTU(1400)
        #expect(throws: SSLError.wantRead) { try client.doHandshake() }
        try moveCiphertext(from: client, to: server)
        #expect(throws: DTLSCookieFailure()) { try server.dtlsv1Listen() }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func noTimerOnAFreshTLSConnection() throws {
        let connection = try Connection(context: pki.makeClientContext())
        #expect(connection.dtlsv1GetTimeout() == nil)
    }
}

private struct DTLSCookieFailure: Error, Equatable {}
