import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

@Suite struct CallbackVerifyTests {
    struct Call: Sendable {
        let connection: ObjectIdentifier
        let certificate: [UInt8]
        let errorNumber: Int32
        let depth: Int32
        let ok: Bool
    }

    @Test func callbackArgumentsWithTrustedChain() throws {
        let pki = try TestPKI.shared()
        let calls = Recorder<Call>()
        let clientContext = try pki.makeClientContext(verify: false)
        try clientContext.setVerify(SSL.VERIFY_PEER) { connection, certificate, errorNumber, depth, ok in
            calls.append(Call(connection: ObjectIdentifier(connection), certificate: try der(certificate),
                              errorNumber: errorNumber, depth: depth, ok: ok))
            return ok
        }
        let client = try Connection(context: clientContext)
        let server = try Connection(context: pki.makeServerContext())
        try handshake(client: client, server: server)
        let seen = calls.values
        #expect(seen.count == 2)
        #expect(seen.allSatisfy { $0.connection == ObjectIdentifier(client) && $0.ok && $0.errorNumber == 0 })
        #expect(seen.map(\.depth) == [1, 0])
        #expect(seen.last?.certificate == (try der(Crypto.loadCertificate(.pem, pki.server.certPEM))))
        #expect(seen.first?.certificate == (try der(Crypto.loadCertificate(.pem, pki.ca.certPEM))))
    }

    @Test func callbackOverridesAnUntrustedChain() throws {
        let pki = try TestPKI.shared()
        let calls = Recorder<Call>()
        // No trust anchors: OpenSSL's verdict is "unable to get local issuer certificate" (20) at depth 0.
        let clientContext = try Context(method: .tlsClient)
        try clientContext.setVerify(SSL.VERIFY_PEER) { connection, certificate, errorNumber, depth, ok in
            calls.append(Call(connection: ObjectIdentifier(connection), certificate: [], errorNumber: errorNumber, depth: depth, ok: ok))
            return true
        }
        let client = try Connection(context: clientContext)
        let server = try Connection(context: pki.makeServerContext())
        try handshake(client: client, server: server)
        let first = try #require(calls.values.first)
        #expect(!first.ok && first.errorNumber == 20 && first.depth == 0)
        #expect(client.getVerifyResult() == 0)
    }

    @Test func callbackErrorFailsTheHandshakeAndIsRethrown() throws {
        let pki = try TestPKI.shared()
        let clientContext = try pki.makeClientContext(verify: false)
        try clientContext.setVerify(SSL.VERIFY_PEER) { _, _, _, _, _ in throw CallbackMarker("verify") }
        let client = try Connection(context: clientContext)
        let server = try Connection(context: pki.makeServerContext())
        let error = handshakeError(client: client, server: server)
        #expect(error as? CallbackMarker == CallbackMarker("verify"))
        #expect(OpenSSLErrorQueue.isEmpty)
        #expect(client.getVerifyResult() != 0)
    }

    @Test func callbackErrorIsRethrownEvenWithVerifyNone() throws {
        let pki = try TestPKI.shared()
        let clientContext = try Context(method: .tlsClient)
        try clientContext.setVerify(SSL.VERIFY_NONE) { _, _, _, _, _ in throw CallbackMarker("none") }
        let client = try Connection(context: clientContext)
        let server = try Connection(context: pki.makeServerContext())
        let error = handshakeError(client: client, server: server)
        #expect(error as? CallbackMarker == CallbackMarker("none"))
    }

    @Test func rejectingCallbackFails() throws {
        let pki = try TestPKI.shared()
        let clientContext = try pki.makeClientContext(verify: false)
        try clientContext.setVerify(SSL.VERIFY_PEER) { _, _, _, _, _ in false }
        let client = try Connection(context: clientContext)
        let server = try Connection(context: pki.makeServerContext())
        let error = try #require(handshakeError(client: client, server: server))
        #expect(openSSLEntries(error)?.contains { $0.reason.contains("certificate verify failed") } == true, "\(error)")
        #expect(client.getVerifyResult() == 50, "X509_V_ERR_APPLICATION_VERIFICATION")
    }

    @Test func defaultVerificationWithoutCallback() throws {
        let pki = try TestPKI.shared()
        // VERIFY_PEER without trust anchors fails...
        let strict = try Context(method: .tlsClient)
        try strict.setVerify(SSL.VERIFY_PEER)
        let error = try #require(handshakeError(client: Connection(context: strict), server: Connection(context: pki.makeServerContext())))
        #expect(openSSLEntries(error)?.contains { $0.reason.contains("certificate verify failed") } == true, "\(error)")
        #expect(OpenSSLErrorQueue.isEmpty)
        // ...VERIFY_NONE does not.
        let lax = try Context(method: .tlsClient)
        try lax.setVerify(SSL.VERIFY_NONE)
        try handshake(client: Connection(context: lax), server: Connection(context: pki.makeServerContext()))
    }

    @Test func callbackReappliedAfterSNISwitch() throws {
        let pki = try TestPKI.shared()
        let calls = Recorder<Int32>()
        let secure = try pki.makeServerContext()
        try secure.loadVerifyLocations(caFile: pki.ca.certPath)
        try secure.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT) { _, _, _, depth, ok in calls.append(depth); return ok }
        let open = try pki.makeServerContext()
        try open.setTLSExtServernameCallback { connection in
            try connection.setContext(secure)
            connection.setVerify(secure.getVerifyMode(), callback: secure.getVerifyCallback())
        }
        #expect(open.getVerifyCallback() == nil)
        try handshake(client: Connection(context: pki.makeClientContext(identity: \.client)), server: Connection(context: open))
        #expect(calls.values == [1, 0])
    }

    @Test func callbackSurvivesTheContextsSwiftObject() throws {
        // The SSL keeps its own reference to the callback, like OpenSSL keeps the function pointer.
        let pki = try TestPKI.shared()
        let calls = Recorder<Int32>()
        var client: Connection?
        do {
            let clientContext = try pki.makeClientContext(verify: false)
            try clientContext.setVerify(SSL.VERIFY_PEER) { _, _, _, depth, ok in calls.append(depth); return ok }
            client = try Connection(context: clientContext)
        }
        try handshake(client: #require(client), server: Connection(context: pki.makeServerContext()))
        #expect(calls.values == [1, 0])
    }
}
