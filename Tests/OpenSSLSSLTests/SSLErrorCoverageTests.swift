import Foundation
import Glibc
import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

/// The error contract of the coverage audit (docs/pyopenssl-coverage.md, `## OpenSSL.SSL`): every public
/// throwing entry point clears the thread's error queue before it runs and drains it into the thrown error, so
/// a stale entry from an earlier call never rides along and nothing is left behind; and every Swift callback's
/// error aborts the handshake and comes back unchanged from the call that drove OpenSSL.
@Suite struct SSLErrorHygieneCoverageTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI.shared() }

    /// One failing call per public throwing entry point (and per distinct early-throw path) of OpenSSLSSL.
    /// Returns the calls and the objects they use, which must stay alive while they run.
    func failingCalls() throws -> (calls: [(String, () throws -> Void)], keepAlive: [AnyObject]) {
        let frozen = try pki.makeServerContext()
        let frozenBy = try Connection(context: frozen)
        let fresh = try Context(method: .tls)
        let withCertificate = try Context(method: .tls)
        try withCertificate.useCertificateFile(pki.server.certPath)
        let certificate = try Crypto.loadCertificate(.pem, pki.server.certPEM)
        let otherKey = try Crypto.loadPrivateKey(.pem, pki.client.keyPEM)
        let directory = try contextTestDirectory()
        let emptyFile = try writeFile(directory, "empty.pem", "")
        let missing = directory + "/missing.pem"

        let memory = try Connection(context: pki.makeClientContext())
        let tcp = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let socketConnection = try Connection(context: pki.makeClientContext(), socket: tcp)
        let closedFD = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let closed = try Connection(context: pki.makeClientContext(), socket: closedFD)
        try closed.close()
        let refusedPort = try freeLoopbackPort()
        let dtls = try Connection(context: pki.makeClientContext(method: .dtls))
        let (client, server) = try pki.connectedMemoryPair()
        let (shutClient, _) = try pki.connectedMemoryPair()
        _ = try shutClient.shutdown()
        let (eofClient, _) = try pki.connectedMemoryPair()
        try eofClient.bioShutdown()
        let foreignSession = try #require(client.getSession())
        let untrusting = try Context(method: .tlsClient)
        try untrusting.loadVerifyLocations(caFile: pki.ca2.certPath)
        try untrusting.setVerify(SSL.VERIFY_PEER)
        let serverContext = try pki.makeServerContext()
        let key = try TicketKeys.Key.generate()
        var buffer = [UInt8](repeating: 0, count: 8)
        let empty = UnsafeMutableRawBufferPointer(start: nil, count: 0)

        var calls: [(String, () throws -> Void)] = [
            // Context: construction.
            ("Context(methodRawValue: 13)", { _ = try Context(methodRawValue: 13) }),
            ("Context(methodRawValue: 1)", { _ = try Context(methodRawValue: 1) }),
            ("Context(methodRawValue: 2)", { _ = try Context(methodRawValue: 2) }),
            // Context: OpenSSL failures and argument errors on a mutable Context.
            ("useCertificate(empty)", { try fresh.useCertificate(X509()) }),
            ("useCertificateFile(missing)", { try fresh.useCertificateFile(missing) }),
            ("useCertificateFile(.text)", { try fresh.useCertificateFile(self.pki.server.certPath, type: .text) }),
            ("useCertificateChainFile(missing)", { try fresh.useCertificateChainFile(missing) }),
            ("usePrivateKey(empty)", { try fresh.usePrivateKey(PKey()) }),
            ("usePrivateKey(mismatch)", { try withCertificate.usePrivateKey(otherKey) }),
            ("usePrivateKeyFile(missing)", { try fresh.usePrivateKeyFile(missing) }),
            ("usePrivateKeyFile(.text)", { try fresh.usePrivateKeyFile(self.pki.server.keyPath, type: .text) }),
            ("checkPrivateKey(no key)", { try fresh.checkPrivateKey() }),
            ("setMinProtoVersion(bogus)", { try fresh.setMinProtoVersion(0x1234) }),
            ("setMaxProtoVersion(bogus)", { try fresh.setMaxProtoVersion(0x1234) }),
            ("setCipherList(bogus)", { try fresh.setCipherList("imaginary-cipher") }),
            ("setTLS13Ciphersuites(bogus)", { try fresh.setTLS13Ciphersuites("TLS_IMAGINARY") }),
            ("setGroupsList(bogus)", { try fresh.setGroupsList("imaginary-group") }),
            ("setGroups([])", { try fresh.setGroups([]) }),
            ("setTmpECDH(secp112r1)", { try fresh.setTmpECDH("secp112r1") }),
            ("loadTmpDH(missing)", { try fresh.loadTmpDH(missing) }),
            ("loadTmpDH(not DH)", { try fresh.loadTmpDH(self.pki.server.keyPath) }),
            ("setTLSExtUseSRTP(bogus)", { try fresh.setTLSExtUseSRTP("SRTP_BOGUS") }),
            ("loadVerifyLocations(missing)", { try fresh.loadVerifyLocations(caFile: missing) }),
            ("loadVerifyLocations(nil, nil)", { try fresh.loadVerifyLocations(caFile: nil, caPath: nil) }),
            ("loadClientCA(empty)", { try fresh.loadClientCA(emptyFile) }),
            ("setSessionId(33 bytes)", { try fresh.setSessionId([UInt8](repeating: 1, count: 33)) }),
            ("setSessionCacheSize(-1)", { try fresh.setSessionCacheSize(-1) }),
            ("setNumTickets(-1)", { try fresh.setNumTickets(-1) }),
            ("setALPNProtos([])", { try fresh.setALPNProtos([[UInt8]]()) }),
            ("setALPNProtos([\"\"])", { try fresh.setALPNProtos([""]) }),
            // Connection: construction and transport mismatches.
            ("Connection(socket: -1)", { _ = try Connection(context: fresh, socket: -1) }),
            ("memory.fileno", { _ = try memory.fileno() }),
            ("memory.bind", { try memory.bind(.ipv4(host: "127.0.0.1", port: 0)) }),
            ("memory.listen", { try memory.listen(1) }),
            ("memory.accept", { _ = try memory.accept() }),
            ("memory.connect", { try memory.connect(.ipv4(host: "127.0.0.1", port: refusedPort)) }),
            ("memory.connectEx", { _ = try memory.connectEx(.ipv4(host: "127.0.0.1", port: refusedPort)) }),
            ("memory.getpeername", { _ = try memory.getpeername() }),
            ("memory.getsockname", { _ = try memory.getsockname() }),
            ("memory.setblocking", { try memory.setblocking(false) }),
            ("memory.getsockopt", { _ = try memory.getsockopt(level: SOL_SOCKET, option: SO_TYPE) }),
            ("memory.getsockopt(length:)", { _ = try memory.getsockopt(level: SOL_SOCKET, option: SO_TYPE, length: 4) }),
            ("memory.setsockopt", { try memory.setsockopt(level: SOL_SOCKET, option: SO_KEEPALIVE, value: 1) }),
            ("memory.setsockopt(bytes:)", { try memory.setsockopt(level: SOL_SOCKET, option: SO_KEEPALIVE, bytes: [1, 0, 0, 0]) }),
            ("memory.sockShutdown", { try memory.sockShutdown(Connection.SHUT_RDWR) }),
            ("memory.close", { try memory.close() }),
            ("socket.bioRead", { _ = try socketConnection.bioRead(10) }),
            ("socket.bioRead(into:)", { _ = try buffer.withUnsafeMutableBytes { try socketConnection.bioRead(into: $0) } }),
            ("socket.bioWrite", { _ = try socketConnection.bioWrite([1, 2]) }),
            ("socket.bioWrite(raw)", { _ = try buffer.withUnsafeBytes { try socketConnection.bioWrite($0) } }),
            ("socket.bioShutdown", { try socketConnection.bioShutdown() }),
            // Connection: system-call failures.
            ("socket.getpeername(unconnected)", { _ = try socketConnection.getpeername() }),
            ("socket.sockShutdown(unconnected)", { try socketConnection.sockShutdown(Connection.SHUT_RDWR) }),
            ("socket.getsockopt(bad option)", { _ = try socketConnection.getsockopt(level: SOL_SOCKET, option: -1) }),
            ("socket.getsockopt(length: -1)", { _ = try socketConnection.getsockopt(level: SOL_SOCKET, option: SO_TYPE, length: -1) }),
            ("socket.setsockopt(bad option)", { try socketConnection.setsockopt(level: SOL_SOCKET, option: -1, value: 1) }),
            ("socket.setsockopt(bytes:, bad option)", { try socketConnection.setsockopt(level: SOL_SOCKET, option: -1, bytes: [1]) }),
            ("socket.bind(bad address)", { try socketConnection.bind(.ipv4(host: "not an address", port: 1)) }),
            ("socket.listen(after close)", { try closed.listen(1) }),
            ("socket.setblocking(after close)", { try closed.setblocking(true) }),
            ("socket.getsockname(after close)", { _ = try closed.getsockname() }),
            ("socket.accept(after close)", { _ = try closed.accept() }),
            ("socket.fileno(after close)", { _ = try closed.fileno() }),
            ("socket.send(after close)", { _ = try closed.send([1]) }),
            // Connection: argument errors.
            ("recv(-1)", { _ = try memory.recv(-1) }),
            ("recvInto(maxLength: -1)", { _ = try buffer.withUnsafeMutableBytes { try memory.recvInto($0, maxLength: -1) } }),
            ("recv(into:maxLength: -1)", { _ = try buffer.withUnsafeMutableBytes { try memory.recv(into: $0, maxLength: -1) } }),
            ("bioRead(0)", { _ = try memory.bioRead(0) }),
            ("bioRead(into: empty)", { _ = try memory.bioRead(into: empty) }),
            ("setALPNProtos(conn, [])", { try memory.setALPNProtos([[UInt8]]()) }),
            ("setALPNProtos(conn, [\"\"])", { try memory.setALPNProtos([""]) }),
            ("setTLSExtHostName(NUL)", { try memory.setTLSExtHostName([0x61, 0x00, 0x62]) }),
            ("usePrivateKey(conn, empty)", { try memory.usePrivateKey(PKey()) }),
            ("useCertificate(conn, empty)", { try memory.useCertificate(X509()) }),
            ("exportKeyingMaterial(length: -1)", { _ = try client.exportKeyingMaterial(label: "x", length: -1) }),
            ("exportKeyingMaterial(before handshake)", { _ = try memory.exportKeyingMaterial(label: "x", length: 16) }),
            ("setSession(other Context)", { try memory.setSession(foreignSession) }),
            ("setCiphertextMTU(1)", { try dtls.setCiphertextMTU(1) }),
            // Connection: OpenSSL failures and non-failures reported as errors.
            ("renegotiate(TLS 1.3)", { _ = try server.renegotiate() }),
            ("doHandshake(wantRead)", { memory.setConnectState(); try memory.doHandshake() }),
            ("recv(wantRead)", { _ = try client.recv(10) }),
            ("recv(unexpected EOF)", { _ = try eofClient.recv(10) }),
            ("send(after shutdown)", { _ = try shutClient.send([1]) }),
            ("sendAll(after shutdown)", { _ = try shutClient.sendAll([1]) }),
            ("sendAll(raw, after shutdown)", { _ = try buffer.withUnsafeBytes { try shutClient.sendAll($0) } }),
            ("send(raw, after shutdown)", { _ = try buffer.withUnsafeBytes { try shutClient.send($0) } }),
            ("shutdown(wantRead)", { _ = try shutClient.shutdown() }),
            ("handshake(verify failed)", {
                try handshake(client: Connection(context: untrusting), server: Connection(context: serverContext))
            }),
            // Pure-Swift values: still no stale entry left behind.
            ("TicketKeys.Key(79 bytes)", { _ = try TicketKeys.Key([UInt8](repeating: 1, count: 79)) }),
            ("TicketKeys([])", { _ = try TicketKeys([]) }),
            ("TicketKeys(duplicate names)", { _ = try TicketKeys([key, key]) }),
            ("TicketKeys(serialized: bad)", { _ = try TicketKeys(serialized: [[1]]) }),
            ("TicketKeys.rotated(keeping: 0)", { _ = try TicketKeys([key]).rotated(adding: key, keeping: 0) }),
        ]
        // Context: every mutator of a frozen Context.
        let frozenMutations: [(String, () throws -> Void)] = [
            ("setAppData", { try frozen.setAppData(1) }),
            ("useCertificate", { try frozen.useCertificate(certificate) }),
            ("useCertificateFile", { try frozen.useCertificateFile(self.pki.server.certPath) }),
            ("useCertificateChainFile", { try frozen.useCertificateChainFile(self.pki.chainServerChainPath) }),
            ("addExtraChainCert", { try frozen.addExtraChainCert(certificate) }),
            ("usePrivateKey", { try frozen.usePrivateKey(otherKey) }),
            ("usePrivateKeyFile", { try frozen.usePrivateKeyFile(self.pki.server.keyPath) }),
            ("setPasswdCb", { try frozen.setPasswdCb { _, _, _ in [] } }),
            ("setMinProtoVersion", { try frozen.setMinProtoVersion(0) }),
            ("setMaxProtoVersion", { try frozen.setMaxProtoVersion(0) }),
            ("setCipherList", { try frozen.setCipherList("DEFAULT") }),
            ("setTLS13Ciphersuites", { try frozen.setTLS13Ciphersuites("TLS_AES_128_GCM_SHA256") }),
            ("setGroupsList", { try frozen.setGroupsList("P-256") }),
            ("setGroups", { try frozen.setGroups(["P-256"]) }),
            ("setTmpECDH", { try frozen.setTmpECDH("prime256v1") }),
            ("loadTmpDH", { try frozen.loadTmpDH(missing) }),
            ("setOptions", { try frozen.setOptions(SSL.OP_NO_TICKET) }),
            ("clearOptions", { try frozen.clearOptions(SSL.OP_NO_TICKET) }),
            ("setMode", { try frozen.setMode(SSL.MODE_RELEASE_BUFFERS) }),
            ("clearMode", { try frozen.clearMode(SSL.MODE_RELEASE_BUFFERS) }),
            ("setTLSExtUseSRTP", { try frozen.setTLSExtUseSRTP("SRTP_AES128_CM_SHA1_80") }),
            ("setSessionId", { try frozen.setSessionId([1]) }),
            ("setSessionCacheMode", { try frozen.setSessionCacheMode(SSL.SESS_CACHE_OFF) }),
            ("setSessionCacheSize", { try frozen.setSessionCacheSize(1) }),
            ("setTimeout", { try frozen.setTimeout(1) }),
            ("setSessionTicketsEnabled", { try frozen.setSessionTicketsEnabled(false) }),
            ("setNumTickets", { try frozen.setNumTickets(0) }),
            ("setTicketKeys(first)", { try frozen.setTicketKeys(TicketKeys([key])) }),
            ("loadVerifyLocations", { try frozen.loadVerifyLocations(caFile: self.pki.ca.certPath) }),
            ("setDefaultVerifyPaths", { try frozen.setDefaultVerifyPaths() }),
            ("setVerify", { try frozen.setVerify(SSL.VERIFY_PEER) }),
            ("setVerifyDepth", { try frozen.setVerifyDepth(1) }),
            ("loadClientCA", { try frozen.loadClientCA(self.pki.ca.certPath) }),
            ("setClientCAList", { try frozen.setClientCAList([]) }),
            ("addClientCA", { try frozen.addClientCA(certificate) }),
            ("setALPNProtos", { try frozen.setALPNProtos(["h2"]) }),
            ("setALPNSelectCallback", { try frozen.setALPNSelectCallback { _, _ in .noOverlap } }),
            ("setTLSExtServernameCallback", { try frozen.setTLSExtServernameCallback { _ in } }),
            ("setClientHelloCallback", { try frozen.setClientHelloCallback { _ in } }),
            ("setInfoCallback", { try frozen.setInfoCallback { _, _, _ in } }),
            ("setKeylogCallback", { try frozen.setKeylogCallback { _, _ in } }),
            ("setOCSPServerCallback", { try frozen.setOCSPServerCallback { _, _ in [] } }),
            ("setOCSPClientCallback", { try frozen.setOCSPClientCallback { _, _, _ in true } }),
            ("setCookieGenerateCallback", { try frozen.setCookieGenerateCallback { _ in [1] } }),
            ("setCookieVerifyCallback", { try frozen.setCookieVerifyCallback { _, _ in true } }),
        ]
        calls += frozenMutations.map { name, call in ("frozen.\(name)", call) }
        return (calls, [frozenBy, memory, socketConnection, closed, dtls, client, server, shutClient, eofClient, frozen])
    }

    @Test func staleQueueEntriesNeverReachAThrownErrorAndNothingIsLeftBehind() throws {
        let (calls, keepAlive) = try failingCalls()
        defer { OpenSSLErrorQueue.clear() }
        for (name, call) in calls {
            try dirtyTheErrorQueue()
            do {
                try call()
                Issue.record("\(name): expected an error")
            } catch {
                let entries = (error as? SSLError)?.entries ?? []
                #expect(!carriesStaleEntry(entries), "\(name) carried a stale entry: \(error)")
                #expect(OpenSSLErrorQueue.isEmpty, "\(name) left the queue dirty after \(error)")
                #expect(error is SSLError, "\(name): \(error)")
            }
        }
        withExtendedLifetime(keepAlive) {}
        print("error hygiene: \(calls.count) failing calls checked")
    }

    @Test func frozenContextRefusesEveryCallbackSetter() throws {
        // ContextFreezeTests covers the settings; this covers the callbacks and the ALPN/groups setters, which
        // pyOpenSSL freezes too.
        let (calls, keepAlive) = try failingCalls()
        var checked = 0
        for (name, call) in calls where name.hasPrefix("frozen.") {
            do {
                try call()
                Issue.record("\(name) mutated a frozen Context")
            } catch SSLError.contextInUse {
                checked += 1
            } catch {
                Issue.record("\(name) threw \(error) instead of contextInUse")
            }
        }
        #expect(checked == 45)
        withExtendedLifetime(keepAlive) {}
    }

    @Test func callbackFailureThatAlreadyStoppedAConnectionLeavesNoStaleEntry() throws {
        // Once a callback failed, every later call rethrows its error without calling OpenSSL; it must still
        // start from a clean queue.
        let connection = try Connection(context: pki.makeClientContext())
        let dtls = try Connection(context: pki.makeClientContext(method: .dtls))
        connection.recordCallbackError(CallbackMarker("sticky"))
        dtls.recordCallbackError(CallbackMarker("sticky"))
        var buffer = [UInt8](repeating: 0, count: 8)
        let calls: [(String, () throws -> Void)] = [
            ("doHandshake", { try connection.doHandshake() }),
            ("doHandshake again", { try connection.doHandshake() }),
            ("recv", { _ = try connection.recv(1) }),
            ("recv peek", { _ = try connection.recv(1, peek: true) }),
            ("recvInto", { _ = try buffer.withUnsafeMutableBytes { try connection.recvInto($0) } }),
            ("send", { _ = try connection.send([1]) }),
            ("sendAll", { _ = try connection.sendAll([1]) }),
            ("shutdown", { _ = try connection.shutdown() }),
            ("dtlsv1Listen", { _ = try { dtls.setAcceptState(); try dtls.dtlsv1Listen() }() }),
            ("dtlsv1HandleTimeout", { _ = try dtls.dtlsv1HandleTimeout() }),
        ]
        for (name, call) in calls {
            try dirtyTheErrorQueue()
            #expect(throws: CallbackMarker("sticky"), "\(name)") { try call() }
            #expect(OpenSSLErrorQueue.isEmpty, "\(name) left the queue dirty")
        }
        OpenSSLErrorQueue.clear()
    }

    @Test func successfulStepsDoNotDependOnAStaleQueue() throws {
        // A stale entry must not turn a wantRead, a clean EOF classification or a completed handshake into an error.
        try dirtyTheErrorQueue()
        let (client, server) = try pki.connectedMemoryPair()
        try dirtyTheErrorQueue()
        #expect(throws: SSLError.wantRead) { try server.recv(10) }
        #expect(OpenSSLErrorQueue.isEmpty)
        try dirtyTheErrorQueue()
        #expect(try client.send(Array("x".utf8)) == 1)
        try pump(client, server)
        try dirtyTheErrorQueue()
        #expect(try server.recv(10) == Array("x".utf8))
        try dirtyTheErrorQueue()
        try server.bioShutdown()
        #expect { try server.recv(10) } throws: { isUnexpectedEOF($0) }
        #expect(OpenSSLErrorQueue.isEmpty)
        try dirtyTheErrorQueue()
        guard case .unexpectedEOF = server.handshakeStep() else { Issue.record("handshakeStep after EOF"); return }
        OpenSSLErrorQueue.clear()
    }
}

/// Every Swift callback: its error aborts the handshake (the peer gets an alert where OpenSSL can send one) and is
/// rethrown unchanged from whichever call drove OpenSSL: `doHandshake`, `recv` or `send`.
@Suite struct SSLCallbackErrorCoverageTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI.shared() }

    /// The reasons of the error the client's next handshake step reports after the server's alert arrived.
    func clientSees(_ client: Connection, _ server: Connection) throws -> [String] {
        try moveCiphertext(from: server, to: client)
        do {
            try client.doHandshake()
            return []
        } catch {
            return (error as? SSLError)?.entries.map(\.reason) ?? ["\(error)"]
        }
    }

    @Test func serverNameErrorIsRethrownFromRecvThatDroveTheHandshake() throws {
        let serverContext = try pki.makeServerContext()
        try serverContext.setTLSExtServernameCallback { _ in throw CallbackMarker("sni in recv") }
        let server = try Connection(context: serverContext)
        server.setAcceptState()
        let client = try Connection(context: pki.makeClientContext())
        try client.setTLSExtHostName("example.org")
        client.setConnectState()
        #expect(throws: SSLError.wantRead) { try client.doHandshake() }
        try moveCiphertext(from: client, to: server)
        // No explicit handshake on the server: SSL_read runs it.
        #expect(throws: CallbackMarker("sni in recv")) { _ = try server.recv(100) }
        #expect(OpenSSLErrorQueue.isEmpty)
        #expect(try clientSees(client, server).contains { $0.contains("unrecognized name") })
        // Dead for good: the same error, and nothing was negotiated.
        #expect(throws: CallbackMarker("sni in recv")) { _ = try server.recv(100) }
        #expect(server.getPeerFinished() == nil)
    }

    @Test func infoErrorIsRethrownFromSendThatDroveTheHandshake() throws {
        let clientContext = try pki.makeClientContext()
        try clientContext.setInfoCallback { _, whereBits, _ in
            if whereBits & SSL.SSL_CB_HANDSHAKE_START != 0 { throw CallbackMarker("info in send") }
        }
        let client = try Connection(context: clientContext)
        client.setConnectState()
        // No explicit handshake on the client: SSL_write runs it.
        #expect(throws: CallbackMarker("info in send")) { _ = try client.send(Array("early".utf8)) }
        #expect(OpenSSLErrorQueue.isEmpty)
        #expect(throws: CallbackMarker("info in send")) { _ = try client.send(Array("again".utf8)) }
        #expect(throws: CallbackMarker("info in send")) { try client.doHandshake() }
    }

    @Test func verifyErrorOnTheServerIsRethrownAndTheClientGetsAnAlert() throws {
        let serverContext = try pki.makeServerContext()
        try serverContext.loadVerifyLocations(caFile: pki.ca.certPath)
        try serverContext.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT) { _, _, _, _, _ in
            throw CallbackMarker("server verify")
        }
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext(identity: \.client, maxVersion: SSL.TLS1_2_VERSION))
        #expect(handshakeError(client: client, server: server) as? CallbackMarker == CallbackMarker("server verify"))
        #expect(OpenSSLErrorQueue.isEmpty)
        let reasons = try clientSees(client, server)
        #expect(reasons.contains { $0.contains("alert handshake failure") }, "\(reasons)")
        #expect(server.getVerifyResult() == Int(X509VerificationCodes.ERR_APPLICATION_VERIFICATION.rawValue))
    }

    @Test func alpnErrorSendsNoApplicationProtocol() throws {
        let serverContext = try pki.makeServerContext()
        try serverContext.setALPNSelectCallback { _, _ in throw CallbackMarker("alpn") }
        let clientContext = try pki.makeClientContext()
        try clientContext.setALPNProtos(["h2"])
        let client = try Connection(context: clientContext)
        let server = try Connection(context: serverContext)
        #expect(handshakeError(client: client, server: server) as? CallbackMarker == CallbackMarker("alpn"))
        let reasons = try clientSees(client, server)
        #expect(reasons.contains { $0.contains("no application protocol") }, "\(reasons)")
    }

    @Test func keylogErrorIsRethrownAndStopsTheConnection() throws {
        let serverContext = try pki.makeServerContext()
        try serverContext.setKeylogCallback { _, _ in throw CallbackMarker("keylog") }
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext())
        #expect(handshakeError(client: client, server: server) as? CallbackMarker == CallbackMarker("keylog"))
        #expect(OpenSSLErrorQueue.isEmpty)
        // OpenSSL cannot be stopped from a key-log callback; the Connection refuses to go on instead.
        #expect(throws: CallbackMarker("keylog")) { try server.doHandshake() }
        #expect(throws: CallbackMarker("keylog")) { _ = try server.send([1]) }
        #expect(throws: CallbackMarker("keylog")) { _ = try server.recv(1) }
    }

    @Test func ocspServerErrorAbortsTheHandshakeWithAnAlert() throws {
        let serverContext = try pki.makeServerContext()
        try serverContext.setOCSPServerCallback { _, _ in throw CallbackMarker("ocsp server") }
        let clientContext = try pki.makeClientContext()
        try clientContext.setOCSPClientCallback { _, _, _ in true }
        let client = try Connection(context: clientContext)
        try client.requestOCSP()
        let server = try Connection(context: serverContext)
        #expect(handshakeError(client: client, server: server) as? CallbackMarker == CallbackMarker("ocsp server"))
        let reasons = try clientSees(client, server)
        #expect(reasons.contains { $0.contains("alert") }, "\(reasons)")
    }
}
