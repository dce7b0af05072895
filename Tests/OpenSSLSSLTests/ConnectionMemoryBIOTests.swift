import Testing
@testable import OpenSSLCrypto
@testable import OpenSSLSSL

/// Memory-BIO connections pumped against each other in one thread (pyOpenSSL's TestMemoryBIO and the
/// memory-BIO parts of TestConnection).
@Suite struct ConnectionMemoryBIOTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI.shared() }

    @Test func handshakeAndDataBothWays() throws {
        let (client, server) = try pki.connectedMemoryPair()
        #expect(try client.send(Array("client -> server".utf8)) == 16)
        try pump(client, server)
        #expect(try server.recv(100) == Array("client -> server".utf8))
        #expect(try server.send(Array("server -> client".utf8)) == 16)
        try pump(client, server)
        #expect(try client.recv(100) == Array("server -> client".utf8))
        // Both ends derive the same secrets.
        #expect(client.masterKey() != nil)
        #expect(client.masterKey() == server.masterKey())
        #expect(client.clientRandom() == server.clientRandom())
        #expect(client.serverRandom() == server.serverRandom())
        #expect(client.clientRandom()?.count == 32)
        #expect(client.clientRandom() != client.serverRandom())
        let clientKeys = try client.exportKeyingMaterial(label: "EXPERIMENTAL portcullis", length: 32)
        let serverKeys = try server.exportKeyingMaterial(label: "EXPERIMENTAL portcullis", length: 32)
        #expect(clientKeys == serverKeys)
        #expect(clientKeys.count == 32)
        let withContext = try client.exportKeyingMaterial(label: "EXPERIMENTAL portcullis", length: 32, context: [1, 2, 3])
        #expect(withContext != clientKeys)
        #expect(withContext == (try server.exportKeyingMaterial(label: "EXPERIMENTAL portcullis", length: 32, context: [1, 2, 3])))
    }

    @Test func secretsAreNilBeforeTheHandshake() throws {
        let connection = try Connection(context: pki.makeClientContext())
        #expect(connection.clientRandom() == nil)
        #expect(connection.serverRandom() == nil)
        #expect(connection.masterKey() == nil)
        #expect(throws: SSLError.self) { try connection.exportKeyingMaterial(label: "x", length: 16) }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func bioReadOnEmptyBIOIsWantRead() throws {
        let connection = try Connection(context: pki.makeClientContext())
        #expect(throws: SSLError.wantRead) { try connection.bioRead(1024) }
    }

    @Test func bioReadHonoursTheBufferSize() throws {
        let client = try Connection(context: pki.makeClientContext())
        client.setConnectState()
        #expect(throws: SSLError.wantRead) { try client.doHandshake() }
        let first = try client.bioRead(2)
        #expect(first.count == 2)
        #expect(first[0] == 0x16) // handshake record
        var buffer = [UInt8](repeating: 0, count: 3)
        let count = try buffer.withUnsafeMutableBytes { try client.bioRead(into: $0) }
        #expect(count == 3)
        #expect(buffer[0] == 0x01) // second byte of the legacy record version 0x0301
        #expect(client.bioPending() > 0)
    }

    @Test func socketHelpersRefuseMemoryConnections() throws {
        let connection = try Connection(context: pki.makeClientContext())
        #expect(connection.isMemoryBIO)
        for call in [{ _ = try connection.fileno() }, { try connection.close() }, { _ = try connection.getpeername() }] {
            #expect {
                try call()
            } throws: { error in
                if case SSLError.wrongTransport = error { return true }
                return false
            }
        }
    }

    @Test func outgoingOverflowIsAPartialWrite() throws {
        let (client, server) = try pki.connectedMemoryPair()
        let message = [UInt8](repeating: 0x61, count: 32 * 1024)
        let sent = try client.send(message)
        #expect(sent > 0)
        #expect(sent < message.count) // one record at a time: partial writes are enabled
        try pump(client, server)
        var received: [UInt8] = []
        while received.count < sent {
            received += try server.recv(65536)
        }
        #expect(received.count == sent)
        #expect(throws: SSLError.wantRead) { try server.recv(100) }
    }

    @Test func sendAllDeliversALongMessage() throws {
        let (client, server) = try pki.connectedMemoryPair()
        let message = (0..<(32 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(try client.sendAll(message) == message.count)
        try pump(client, server)
        var received: [UInt8] = []
        for _ in 0..<100 where received.count < message.count {
            received += try server.recv(65536)
        }
        #expect(received == message)
    }

    @Test func shortSend() throws {
        let (client, server) = try pki.connectedMemoryPair()
        #expect(try server.send(Array("xy".utf8)) == 2)
        try pump(client, server)
        #expect(try client.recv(2) == Array("xy".utf8))
    }

    @Test func bioShutdownTurnsWantReadIntoUnexpectedEOF() throws {
        let (client, _) = try pki.connectedMemoryPair()
        #expect(throws: SSLError.wantRead) { try client.recv(1024) }
        try client.bioShutdown()
        #expect { try client.recv(1024) } throws: { error in isUnexpectedEOF(error) }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func unexpectedEOFIsReportedAsPyOpenSSLDoes() throws {
        let (client, server) = try pki.connectedMemoryPair()
        try server.bioShutdown()
        #expect { try server.recv(1024) } throws: { error in
            guard case SSLError.sysCall(let code, let message) = error else { return false }
            return code == -1 && message == "Unexpected EOF"
        }
        // The non-throwing API reports the same thing as its own case.
        try client.bioShutdown()
        var buffer = [UInt8](repeating: 0, count: 64)
        let result = buffer.withUnsafeMutableBytes { client.read(into: $0) }
        guard case .unexpectedEOF = result else {
            Issue.record("expected .unexpectedEOF, got \(result)")
            return
        }
    }

    @Test func ignoreUnexpectedEOFMakesItAZeroReturn() throws {
        let (client, _) = try pki.connectedMemoryPair()
        client.setOptions(SSL.OP_IGNORE_UNEXPECTED_EOF)
        try client.bioShutdown()
        #expect(throws: SSLError.zeroReturn) { try client.recv(1024) }
    }

    @Test func twoStepShutdown() throws {
        let (client, server) = try pki.connectedMemoryPair()
        #expect(try client.shutdown() == false)
        #expect(client.getShutdown() == SSL.SENT_SHUTDOWN)
        try pump(client, server)
        #expect(throws: SSLError.zeroReturn) { try server.recv(1024) }
        #expect(server.getShutdown() == SSL.RECEIVED_SHUTDOWN)
        #expect(try server.shutdown() == true)
        #expect(server.getShutdown() == SSL.SENT_SHUTDOWN | SSL.RECEIVED_SHUTDOWN)
        try pump(client, server)
        #expect(try client.shutdown() == true)
        #expect(client.getShutdown() == SSL.SENT_SHUTDOWN | SSL.RECEIVED_SHUTDOWN)
    }

    @Test func shutdownStepResults() throws {
        let (client, server) = try pki.connectedMemoryPair()
        guard case .done(0) = client.shutdownStep() else { Issue.record("first step must send close_notify"); return }
        guard case .wantRead = client.shutdownStep() else { Issue.record("second step waits for the peer"); return }
        try pump(client, server)
        var buffer = [UInt8](repeating: 0, count: 16)
        guard case .closed = buffer.withUnsafeMutableBytes({ server.read(into: $0) }) else {
            Issue.record("server must see close_notify")
            return
        }
        guard case .closed = server.shutdownStep() else { Issue.record("server completes at once"); return }
        try pump(client, server)
        guard case .closed = client.shutdownStep() else { Issue.record("client completes after the reply"); return }
    }

    @Test func truncatedShutdown() throws {
        let (client, _) = try pki.connectedMemoryPair()
        #expect(try client.shutdown() == false)
        #expect(throws: SSLError.wantRead) { try client.shutdown() }
        try client.bioShutdown()
        #expect(throws: SSLError.self) { try client.shutdown() }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func setShutdownRoundTrips() throws {
        let connection = try Connection(context: pki.makeServerContext())
        #expect(connection.getShutdown() == 0)
        connection.setShutdown(SSL.RECEIVED_SHUTDOWN)
        #expect(connection.getShutdown() == SSL.RECEIVED_SHUTDOWN)
    }

    @Test func peekLeavesTheBytes() throws {
        let (client, server) = try pki.connectedMemoryPair()
        try server.send(Array("xy".utf8))
        try pump(client, server)
        #expect(try client.recv(2, peek: true) == Array("xy".utf8))
        #expect(client.pending() == 2)
        #expect(try client.recv(2, peek: true) == Array("xy".utf8))
        #expect(try client.recv(2) == Array("xy".utf8))
        #expect(client.pending() == 0)
    }

    @Test func recvIntoRespectsLimits() throws {
        let (client, server) = try pki.connectedMemoryPair()
        try server.send(Array("abcdefghij".utf8))
        try pump(client, server)
        var buffer = [UInt8](repeating: 0, count: 5)
        // Never more than the buffer.
        var count = try buffer.withUnsafeMutableBytes { try client.recvInto($0) }
        #expect(count == 5)
        #expect(buffer == Array("abcde".utf8))
        // Never more than maxLength.
        var large = [UInt8](repeating: 0, count: 10)
        count = try large.withUnsafeMutableBytes { try client.recvInto($0, maxLength: 2) }
        #expect(count == 2)
        #expect(large == Array("fg".utf8) + [UInt8](repeating: 0, count: 8))
        // Peek, then the same bytes again.
        count = try large.withUnsafeMutableBytes { try client.recv(into: $0, peek: true) }
        #expect(count == 3)
        count = try large.withUnsafeMutableBytes { try client.recvInto($0, maxLength: 100) }
        #expect(count == 3)
        #expect(Array(large.prefix(3)) == Array("hij".utf8))
        #expect(throws: SSLError.self) { try large.withUnsafeMutableBytes { try client.recvInto($0, maxLength: -1) } }
    }

    @Test func recvIntoShortMessageDoesNotOverfill() throws {
        let (client, server) = try pki.connectedMemoryPair()
        try server.send(Array("xy".utf8))
        try pump(client, server)
        var buffer = [UInt8](repeating: 0x2A, count: 5)
        let count = try buffer.withUnsafeMutableBytes { try client.recvInto($0) }
        #expect(count == 2)
        #expect(buffer == [0x78, 0x79, 0x2A, 0x2A, 0x2A])
    }

    @Test func emptyBuffersShortCircuit() throws {
        let (client, _) = try pki.connectedMemoryPair()
        guard case .done(0) = client.write(UnsafeRawBufferPointer(start: nil, count: 0)) else {
            Issue.record("empty write"); return
        }
        #expect(try client.recv(0) == [])
    }

    @Test func pendingIsZeroOnAFreshConnection() throws {
        #expect(try Connection(context: pki.makeServerContext()).pending() == 0)
    }

    @Test func wantReadAndWantWriteReflectTheLastCall() throws {
        let client = try Connection(context: pki.makeClientContext())
        #expect(!client.wantRead())
        client.setConnectState()
        #expect(throws: SSLError.wantRead) { try client.doHandshake() }
        #expect(client.wantRead())
        #expect(!client.wantWrite())
    }

    @Test func contextIsFrozenByTheConnection() throws {
        let context = try pki.makeServerContext()
        #expect(!context.isFrozen)
        _ = try Connection(context: context)
        #expect(context.isFrozen)
        #expect(throws: SSLError.self) { try context.setVerify(SSL.VERIFY_NONE) }
    }

    @Test func connectionAddsAutoRetry() throws {
        let context = try pki.makeServerContext()
        let contextMode = context.getMode()
        let connection = try Connection(context: context)
        #expect(connection.getMode() == contextMode | SSL.MODE_AUTO_RETRY)
        #expect(contextMode & SSL.MODE_ENABLE_PARTIAL_WRITE != 0)
        #expect(contextMode & SSL.MODE_ACCEPT_MOVING_WRITE_BUFFER != 0)
    }
}

/// True for `SSLError.sysCall(-1, "Unexpected EOF")`.
func isUnexpectedEOF(_ error: any Error) -> Bool {
    guard case SSLError.sysCall(let code, let message) = error else { return false }
    return code == -1 && message == "Unexpected EOF"
}
