import Foundation
import Testing
@testable import OpenSSLCrypto
@testable import OpenSSLSSL

/// A distinct error a test callback throws, to check it comes back unchanged.
fileprivate struct CallbackFailure: Error, Equatable {
    let tag: Int
}

/// The DER bytes of a certificate file, for comparing certificates.
fileprivate func derOf(_ path: String) throws -> [UInt8] {
    let pem = try String(contentsOfFile: path, encoding: .utf8)
    return try Crypto.dumpCertificate(.asn1, Crypto.loadCertificate(.pem, pem))
}

fileprivate func der(_ certificate: X509?) throws -> [UInt8]? {
    guard let certificate else { return nil }
    return try Crypto.dumpCertificate(.asn1, certificate)
}

/// What the handshake negotiated, peer certificates, per-connection overrides and callback errors.
@Suite struct HandshakeTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI.shared() }

    @Test func negotiatedValuesAreNilBeforeTheHandshake() throws {
        let connection = try Connection(context: pki.makeClientContext())
        #expect(connection.getCipherName() == nil)
        #expect(connection.getCipherBits() == nil)
        #expect(connection.getCipherVersion() == nil)
        #expect(connection.getGroupName() == nil)
        #expect(connection.getFinished() == nil)
        #expect(connection.getPeerFinished() == nil)
        #expect(connection.getPeerCertificate() == nil)
        #expect(connection.getPeerCertChain() == nil)
        #expect(connection.getVerifiedChain() == nil)
        #expect(connection.getALPNProtoNegotiated() == [])
        #expect(connection.getSelectedSRTPProfile() == [])
        #expect(connection.getServername() == nil)
        #expect(connection.totalRenegotiations() == 0)
        #expect(!connection.renegotiatePending())
        #expect(String(decoding: connection.getStateString(), as: UTF8.self) == "before SSL initialization")
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func bothEndsAgree(version: Int32) throws {
        let (client, server) = try pki.connectedMemoryPair(maxVersion: version)
        #expect(client.getCipherName() != nil)
        #expect(client.getCipherName() == server.getCipherName())
        #expect(client.getCipherBits() == server.getCipherBits())
        #expect((client.getCipherBits() ?? 0) >= 128)
        #expect(client.getCipherVersion() == server.getCipherVersion())
        #expect(client.getProtocolVersion() == version)
        #expect(server.getProtocolVersion() == version)
        let name = version == SSL.TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2"
        #expect(client.getProtocolVersionName() == name)
        #expect(server.getProtocolVersionName() == name)
        #expect(client.getGroupName() == "x25519")
        #expect(server.getGroupName() == "x25519")
        // Finished messages: what one end sent is what the other received.
        let clientFinished = try #require(client.getFinished())
        let serverFinished = try #require(server.getFinished())
        #expect(!clientFinished.isEmpty)
        #expect(clientFinished != serverFinished)
        #expect(client.getPeerFinished() == serverFinished)
        #expect(server.getPeerFinished() == clientFinished)
        #expect(String(decoding: client.getStateString(), as: UTF8.self) == "SSL negotiation finished successfully")
    }

    @Test func cipherListIsTLS13First() throws {
        let connection = try Connection(context: pki.makeClientContext())
        let list = connection.getCipherList()
        #expect(list.first == "TLS_AES_256_GCM_SHA384")
        #expect(list.contains("ECDHE-ECDSA-AES128-GCM-SHA256"))
    }

    @Test func peerCertChainKeepsOpenSSLsAsymmetry() throws {
        let serverContext = try Context(method: .tls)
        try serverContext.useCertificateChainFile(pki.chainServerChainPath)
        try serverContext.usePrivateKeyFile(pki.chainServer.keyPath)
        try serverContext.loadVerifyLocations(caFile: pki.ca.certPath)
        try serverContext.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext(identity: \.client))
        try handshake(client: client, server: server)

        // Client side: the leaf first, then what the server sent after it.
        let clientView = try #require(client.getPeerCertChain()).map { try der($0)! }
        #expect(clientView == [try derOf(pki.chainServer.certPath), try derOf(pki.intermediate.certPath)])
        let serverView = try #require(server.getPeerCertChain())
        // Server side: the client's leaf is NOT in the chain; what remains is what the client sent after it
        // (OpenSSL's automatic chain building sent the root).
        #expect(try serverView.map { try der($0)! } == [try derOf(pki.ca.certPath)])
        #expect(try der(server.getPeerCertificate()) == derOf(pki.client.certPath))

        // Verified chains run from the leaf to the trust anchor on both sides.
        let verified = try #require(client.getVerifiedChain()).map { try der($0)! }
        #expect(verified == [try derOf(pki.chainServer.certPath), try derOf(pki.intermediate.certPath),
                             try derOf(pki.ca.certPath)])
        let serverVerified = try #require(server.getVerifiedChain()).map { try der($0)! }
        #expect(serverVerified == [try derOf(pki.client.certPath), try derOf(pki.ca.certPath)])
        #expect(client.getVerifyResult() == 0)
        #expect(server.getVerifyResult() == 0)
    }

    @Test func noClientCertificateMeansNoChain() throws {
        let (client, server) = try pki.connectedMemoryPair()
        #expect(server.getPeerCertificate() == nil)
        #expect(server.getPeerCertChain() == nil)
        #expect(server.getVerifiedChain() == nil)
        #expect(client.getPeerCertificate() != nil)
    }

    @Test func localCertificate() throws {
        let (client, server) = try pki.connectedMemoryPair()
        #expect(try der(server.getCertificate()) == derOf(pki.server.certPath))
        #expect(client.getCertificate() == nil)
    }

    @Test func verifyResultReportsAnUntrustedServer() throws {
        let clientContext = try Context(method: .tls) // trusts nothing, does not enforce
        let client = try Connection(context: clientContext)
        let server = try Connection(context: pki.makeServerContext())
        try handshake(client: client, server: server)
        #expect(client.getVerifyResult() == 20) // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        #expect(client.getPeerCertificate() != nil)
    }

    @Test func verifyFailureFailsTheHandshake() throws {
        let clientContext = try Context(method: .tls)
        try clientContext.loadVerifyLocations(caFile: pki.ca2.certPath)
        try clientContext.setVerify(SSL.VERIFY_PEER)
        let client = try Connection(context: clientContext)
        let server = try Connection(context: pki.makeServerContext())
        #expect {
            try handshake(client: client, server: server)
        } throws: { error in
            (error as? SSLError)?.entries.contains { $0.reason == "certificate verify failed" } == true
        }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func contextSwitch() throws {
        let original = try pki.makeServerContext()
        let strict = try pki.makeServerContext(\.chainServer)
        try strict.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
        let connection = try Connection(context: original)
        #expect(connection.getContext() === original)
        #expect(!strict.isFrozen)
        try connection.setContext(strict)
        #expect(connection.getContext() === strict)
        #expect(strict.isFrozen)
        // OpenSSL does not copy the verify mode on a switch (documented; re-apply with setVerify).
        #expect(connection.getVerifyMode() == SSL.VERIFY_NONE)
        #expect(try der(connection.getCertificate()) == derOf(pki.chainServer.certPath))
    }

    @Test func sniCallbackSwitchesContextAndReappliesVerification() throws {
        let other = try pki.makeServerContext(\.chainServer)
        try other.useCertificateChainFile(pki.chainServerChainPath)
        try other.loadVerifyLocations(caFile: pki.ca.certPath)
        let serverContext = try pki.makeServerContext()
        try serverContext.setTLSExtServernameCallback { connection in
            if connection.getServername() == Array("other.test".utf8) {
                try connection.setContext(other)
                connection.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
            }
        }
        // Without a client certificate the switched connection must refuse.
        let plainClient = try Connection(context: pki.makeClientContext())
        try plainClient.setTLSExtHostName("other.test")
        #expect(plainClient.getServername() == Array("other.test".utf8))
        let refusing = try Connection(context: serverContext)
        #expect(throws: (any Error).self) { try handshake(client: plainClient, server: refusing) }

        let client = try Connection(context: pki.makeClientContext(identity: \.client))
        try client.setTLSExtHostName("other.test")
        let server = try Connection(context: serverContext)
        try handshake(client: client, server: server)
        #expect(server.getServername() == Array("other.test".utf8))
        #expect(server.getContext() === other)
        #expect(try der(client.getPeerCertificate()) == derOf(pki.chainServer.certPath))
        #expect(try der(server.getPeerCertificate()) == derOf(pki.client.certPath))

        // Another name keeps the default certificate.
        let defaultClient = try Connection(context: pki.makeClientContext())
        try defaultClient.setTLSExtHostName("localhost")
        let defaultServer = try Connection(context: serverContext)
        try handshake(client: defaultClient, server: defaultServer)
        #expect(try der(defaultClient.getPeerCertificate()) == derOf(pki.server.certPath))
    }

    @Test func hostNameWithNULIsRefused() throws {
        let connection = try Connection(context: pki.makeClientContext())
        #expect(throws: SSLError.invalidArgument("host name must not contain NUL bytes")) {
            try connection.setTLSExtHostName([0x61, 0x00, 0x62])
        }
    }

    @Test func appData() throws {
        let connection = try Connection(context: pki.makeClientContext())
        #expect(connection.appData == nil)
        connection.appData = "hello"
        #expect(connection.appData as? String == "hello")
    }

    @Test func callbackErrorIsRethrownFromDoHandshake() throws {
        let client = try Connection(context: pki.makeClientContext())
        client.setVerify(SSL.VERIFY_PEER) { _, _, _, _, _ in throw CallbackFailure(tag: 7) }
        let server = try Connection(context: pki.makeServerContext())
        #expect(throws: CallbackFailure(tag: 7)) { try handshake(client: client, server: server) }
        #expect(OpenSSLErrorQueue.isEmpty)
        // The handshake does not continue afterwards: the same error again.
        #expect(throws: CallbackFailure(tag: 7)) { try client.doHandshake() }
        #expect(client.getPeerFinished() == nil)
    }

    @Test func contextCallbackErrorIsRethrownFromTheServer() throws {
        let serverContext = try pki.makeServerContext()
        try serverContext.setTLSExtServernameCallback { _ in throw CallbackFailure(tag: 11) }
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext())
        try client.setTLSExtHostName("localhost")
        #expect(throws: CallbackFailure(tag: 11)) { try handshake(client: client, server: server) }
        // Every later step fails with the same error, without driving OpenSSL again.
        guard case .failed(let error) = server.handshakeStep() else { Issue.record("handshake went on"); return }
        #expect(error as? CallbackFailure == CallbackFailure(tag: 11))
        #expect(throws: CallbackFailure(tag: 11)) { try server.recv(10) }
    }

    @Test func pendingErrorWinsBeforeOpenSSLIsCalled() throws {
        let connection = try Connection(context: pki.makeClientContext())
        connection.recordCallbackError(CallbackFailure(tag: 3))
        guard case .failed(let error) = connection.handshakeStep() else { Issue.record("not failed"); return }
        #expect(error as? CallbackFailure == CallbackFailure(tag: 3))
        #expect(connection.pendingCallbackError == nil)
    }

    @Test func connectionVerifyCallbackOverridesTheContext() throws {
        let serverContext = try pki.makeServerContext()
        try serverContext.loadVerifyLocations(caFile: pki.ca.certPath)
        let server = try Connection(context: serverContext)
        let depths = CallLog()
        server.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT) { _, _, error, depth, ok in
            depths.append("\(depth):\(error):\(ok)")
            return ok
        }
        #expect(server.getVerifyMode() == SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
        #expect(serverContext.getVerifyMode() == SSL.VERIFY_NONE)
        let client = try Connection(context: pki.makeClientContext(identity: \.client))
        try handshake(client: client, server: server)
        #expect(depths.entries == ["1:0:true", "0:0:true"])

        // A certificate-less client is refused by FAIL_IF_NO_PEER_CERT.
        let strict = try Connection(context: serverContext)
        strict.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
        let anonymous = try Connection(context: pki.makeClientContext())
        #expect(throws: SSLError.self) { try handshake(client: anonymous, server: strict) }

        // A client from another CA is refused; a callback accepting everything lets it in.
        let foreign = try Connection(context: pki.makeClientContext(identity: \.client2))
        let lenient = try Connection(context: serverContext)
        lenient.setVerify(SSL.VERIFY_PEER) { _, _, _, _, _ in true }
        lenient.setVerifyDepth(5)
        #expect(lenient.getVerifyDepth() == 5)
        try handshake(client: foreign, server: lenient)
        #expect(lenient.getVerifyResult() == 0)
        #expect(try der(lenient.getPeerCertificate()) == derOf(pki.client2.certPath))
    }

    @Test func connectionInfoCallback() throws {
        let server = try Connection(context: pki.makeServerContext())
        let log = CallLog()
        // Capturing `server` itself would be a reference cycle (Connection -> callback -> Connection) that
        // leaks the SSL: compare identities instead.
        let serverID = ObjectIdentifier(server)
        server.setInfoCallback { connection, where_, _ in
            #expect(ObjectIdentifier(connection) == serverID)
            log.append("\(where_)")
        }
        let client = try Connection(context: pki.makeClientContext())
        try handshake(client: client, server: server)
        #expect(log.entries.contains("\(SSL.SSL_CB_HANDSHAKE_START)"))
        #expect(log.entries.contains("\(SSL.SSL_CB_HANDSHAKE_DONE)"))
    }

    @Test func infoCallbackErrorIsRethrown() throws {
        let server = try Connection(context: pki.makeServerContext())
        server.setInfoCallback { _, _, _ in throw CallbackFailure(tag: 5) }
        let client = try Connection(context: pki.makeClientContext())
        #expect(throws: CallbackFailure(tag: 5)) { try handshake(client: client, server: server) }
    }

    @Test func perConnectionCertificateAndKey() throws {
        let serverContext = try Context(method: .tls)
        let server = try Connection(context: serverContext)
        let certificate = try Crypto.loadCertificate(.pem, pki.server.certPEM)
        let key = try Crypto.loadPrivateKey(.pem, pki.server.keyPEM)
        try server.useCertificate(certificate)
        try server.usePrivateKey(key)
        let client = try Connection(context: pki.makeClientContext())
        try handshake(client: client, server: server)
        #expect(try der(client.getPeerCertificate()) == derOf(pki.server.certPath))

        let mismatched = try Connection(context: serverContext)
        try mismatched.useCertificate(certificate)
        #expect(throws: SSLError.self) { try mismatched.usePrivateKey(Crypto.loadPrivateKey(.pem, pki.client.keyPEM)) }
        #expect(throws: SSLError.self) { try mismatched.useCertificate(X509()) }
        #expect(throws: SSLError.self) { try mismatched.usePrivateKey(PKey()) }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func perConnectionOptionsAndMode() throws {
        let context = try pki.makeClientContext()
        let connection = try Connection(context: context)
        let before = connection.getOptions()
        let after = connection.setOptions(SSL.OP_NO_TICKET)
        #expect(after == before | SSL.OP_NO_TICKET)
        #expect(context.getOptions() & SSL.OP_NO_TICKET == 0)
        #expect(connection.clearOptions(SSL.OP_NO_TICKET) == before)
        let mode = connection.setMode(SSL.MODE_RELEASE_BUFFERS)
        #expect(mode & SSL.MODE_RELEASE_BUFFERS != 0)
    }

    @Test func alpnPerConnection() throws {
        let serverContext = try pki.makeServerContext()
        let offeredLog = CallLog()
        try serverContext.setALPNSelectCallback { _, offered in
            offeredLog.append(offered.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ","))
            return .select(offered[0])
        }
        let client = try Connection(context: pki.makeClientContext())
        try client.setALPNProtos(["h2", "http/1.1"])
        let server = try Connection(context: serverContext)
        try handshake(client: client, server: server)
        #expect(offeredLog.entries == ["h2,http/1.1"])
        #expect(client.getALPNProtoNegotiated() == Array("h2".utf8))
        #expect(server.getALPNProtoNegotiated() == Array("h2".utf8))
        #expect(throws: SSLError.self) { try client.setALPNProtos([[UInt8]]()) }
        #expect(throws: SSLError.self) { try client.setALPNProtos([[]]) }
    }

    @Test func clientCAList() throws {
        let serverContext = try pki.makeServerContext()
        try serverContext.loadClientCA(pki.ca.certPath)
        try serverContext.loadVerifyLocations(caFile: pki.ca.certPath)
        try serverContext.setVerify(SSL.VERIFY_PEER)
        let server = try Connection(context: serverContext)
        #expect(try server.getClientCAList().count == 1)
        let client = try Connection(context: pki.makeClientContext(identity: \.client))
        #expect(try client.getClientCAList().isEmpty)
        try handshake(client: client, server: server)
        let received = try client.getClientCAList()
        #expect(received.count == 1)
        let caName = try Crypto.loadCertificate(.pem, pki.ca.certPEM)
        _ = caName
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func ocspRequestAndSRTPDoNotDisturbTLS() throws {
        let client = try Connection(context: pki.makeClientContext())
        try client.requestOCSP()
        let server = try Connection(context: pki.makeServerContext())
        try handshake(client: client, server: server)
        #expect(client.getSelectedSRTPProfile() == [])
    }

    @Test func serverInitiatedRenegotiationOverTLS12() throws {
        let (client, server) = try pki.connectedMemoryPair(maxVersion: SSL.TLS1_2_VERSION)
        #expect(server.totalRenegotiations() == 0)
        #expect(try server.renegotiate() == true)
        #expect(server.renegotiatePending())
        #expect(try server.renegotiate() == false) // already pending
        // The server sends HelloRequest; the rest of the new handshake is processed inside reads.
        try server.doHandshake()
        for _ in 0..<20 where server.renegotiatePending() {
            try pump(client, server)
            #expect(throws: SSLError.wantRead) { try client.recv(100) }
            try pump(client, server)
            #expect(throws: SSLError.wantRead) { try server.recv(100) }
        }
        #expect(!server.renegotiatePending())
        #expect(server.totalRenegotiations() == 1)
        // Data still flows.
        try client.send(Array("after".utf8))
        try pump(client, server)
        #expect(try server.recv(10) == Array("after".utf8))
    }

    @Test func tls13HasNoRenegotiation() throws {
        let (client, _) = try pki.connectedMemoryPair()
        #expect { try client.renegotiate() } throws: { error in
            (error as? SSLError)?.entries.contains { $0.reason == "wrong ssl version" } == true
        }
        #expect(OpenSSLErrorQueue.isEmpty)
    }
}

/// A thread-safe list of strings, for callbacks (which are @Sendable).
fileprivate final class CallLog: @unchecked Sendable {
    private var storage: [String] = []
    private let lock = NSLockLike()
    func append(_ entry: String) { lock.withLock { storage.append(entry) } }
    var entries: [String] { lock.withLock { storage } }
}

/// A minimal lock (Synchronization.Mutex needs a non-copyable dance; this is enough for tests).
fileprivate final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}
