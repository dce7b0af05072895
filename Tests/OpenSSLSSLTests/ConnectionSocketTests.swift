import Foundation
import Glibc
import Testing
@testable import OpenSSLCrypto
@testable import OpenSSLSSL

/// Socket connections over non-blocking loopback TCP, driven from one thread.
@Suite struct ConnectionSocketTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI.shared() }

    /// Client and server Connections over a fresh loopback pair, handshaken. Close the fds with `closeSocket`.
    func connectedSocketPair(
        serverContext: Context? = nil, clientContext: Context? = nil, bufferSize: Int32? = nil
    ) throws -> (client: Connection, server: Connection, fds: (client: Int32, server: Int32)) {
        let fds = try loopbackSocketPair()
        if let bufferSize {
            var size = bufferSize
            for fd in [fds.client, fds.server] {
                _ = Glibc.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                _ = Glibc.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
        }
        let server = try Connection(context: serverContext ?? pki.makeServerContext(), socket: fds.server)
        let client = try Connection(context: clientContext ?? pki.makeClientContext(), socket: fds.client)
        try handshakeOverSockets(client: client, server: server)
        return (client, server, fds)
    }

    @Test func handshakeAndNonThrowingHotPath() throws {
        let (client, server, fds) = try connectedSocketPair()
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        #expect(try client.fileno() == fds.client)
        #expect(!client.isMemoryBIO)

        let message = (0..<(256 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var sent = 0
        var received: [UInt8] = []
        received.reserveCapacity(message.count)
        var buffer = [UInt8](repeating: 0, count: 16384)
        let deadline = Date().addingTimeInterval(10)
        while received.count < message.count, Date() < deadline {
            if sent < message.count {
                let result = message.withUnsafeBytes { client.write(UnsafeRawBufferPointer(rebasing: $0[sent...])) }
                switch result {
                case .done(let count): sent += count
                case .wantWrite, .wantRead: break
                default: Issue.record("write failed: \(result)"); return
                }
            }
            // Read until wantRead: records already pulled off the socket do not wake poll again.
            readLoop: for _ in 0..<1000 {
                let result = buffer.withUnsafeMutableBytes { server.read(into: $0) }
                switch result {
                case .done(let count): received += buffer.prefix(count)
                case .wantRead: break readLoop
                default: Issue.record("read failed: \(result)"); return
                }
            }
        }
        #expect(received == message)
    }

    /// The steady-state hot path over a socket. When the process runs with a malloc-counting preload that
    /// exports `portcullis_malloc_count()` (a per-thread count of malloc/calloc/realloc/memalign calls), the
    /// `.wantRead`/`.wantWrite` results must not allocate at all (no boxed error), and the data path's count is
    /// printed (OpenSSL 3.0 itself allocates inside SSL_write/SSL_read). Without the preload the test still
    /// checks that every byte arrives intact.
    /// With read-ahead, one `read` pulls every record the socket holds into OpenSSL: the second record is
    /// then served while the kernel's receive queue is already empty (so only reading until `wantRead`
    /// finds it); without read-ahead it is still in the kernel after the first record was read.
    @Test(arguments: [true, false]) func readAheadPullsEveryQueuedRecord(enabled: Bool) throws {
        let serverContext = try pki.makeServerContext()
        try serverContext.setReadAhead(enabled)
        #expect(serverContext.getReadAhead() == enabled)
        let (client, server, fds) = try connectedSocketPair(serverContext: serverContext)
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        #expect(server.getReadAhead() == enabled)

        for byte: UInt8 in [1, 2] {
            let record = [UInt8](repeating: byte, count: 100)
            let result = record.withUnsafeBytes { client.write($0) }
            guard case .done(100) = result else { Issue.record("write: \(result)"); return }
        }
        // Both records (100 bytes each plus record overhead) in the kernel before the first read.
        var queuedBytes: Int32 = 0
        let arrival = Date().addingTimeInterval(5)
        while ioctl(fds.server, UInt(FIONREAD), &queuedBytes) == 0, queuedBytes < 200, Date() < arrival { usleep(1000) }
        #expect(queuedBytes >= 200)
        var buffer = [UInt8](repeating: 0, count: 100)
        func readRecord() -> [UInt8]? {
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline {
                switch buffer.withUnsafeMutableBytes({ server.read(into: $0) }) {
                case .done(let count): return Array(buffer.prefix(count))
                case .wantRead: usleep(1000)
                default: return nil
                }
            }
            return nil
        }
        #expect(readRecord() == [UInt8](repeating: 1, count: 100))
        var peek: UInt8 = 0
        let queued = recv(fds.server, &peek, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        #expect((queued > 0) == !enabled, "kernel receive queue after the first record: \(queued)")
        #expect(readRecord() == [UInt8](repeating: 2, count: 100))

        let connection = try Connection(context: serverContext)
        connection.setReadAhead(!enabled)
        #expect(connection.getReadAhead() == !enabled)
    }

    @Test func steadyStateIODoesNotAllocate() throws {
        let (client, server, fds) = try connectedSocketPair(bufferSize: 65536)
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        let message = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 4096)
        defer { message.deallocate(); buffer.deallocate() }
        for index in 0..<message.count { message[index] = UInt8(truncatingIfNeeded: index) }
        typealias Counter = @convention(c) () -> Int
        let counter = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "portcullis_malloc_count")
            .map { unsafeBitCast($0, to: Counter.self) }
        var problems: [String] = []
        var dataAllocations = 0
        func waitReadable(_ fd: Int32) {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, 1000)
        }
        func roundTrip() {
            let before = counter?() ?? 0
            var sent = 0
            for _ in 0..<10_000 where sent < message.count {
                if case .done(let count) = client.write(UnsafeRawBufferPointer(rebasing: message[sent...])) { sent += count }
            }
            var received = 0
            for _ in 0..<10_000 where received < message.count {
                let result = server.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[received...]))
                switch result {
                case .done(let count): received += count
                case .wantRead: waitReadable(fds.server)
                default: problems.append("read: \(result)"); return
                }
            }
            dataAllocations += (counter?() ?? 0) - before
            if memcmp(buffer.baseAddress!, message.baseAddress!, message.count) != 0 { problems.append("data") }
        }
        // Warm up: TLS 1.3 tickets, OpenSSL's lazily allocated buffers and per-thread error state.
        for _ in 0..<50 { roundTrip() }
        dataAllocations = 0
        for _ in 0..<1000 { roundTrip() }
        #expect(problems.isEmpty, "\(problems.prefix(3))")

        // wantRead: nothing to read.
        var wantReadCount = 0
        let beforeWantRead = counter?() ?? 0
        for _ in 0..<1000 {
            if case .wantRead = server.read(into: buffer) { wantReadCount += 1 }
        }
        let wantReadAllocations = (counter?() ?? 0) - beforeWantRead
        #expect(wantReadCount == 1000)

        // wantWrite: the peer does not read, the socket buffers fill up.
        var wantWriteCount = 0
        for _ in 0..<100_000 {
            if case .wantWrite = client.write(UnsafeRawBufferPointer(message)) { break }
        }
        let beforeWantWrite = counter?() ?? 0
        for _ in 0..<1000 {
            if case .wantWrite = client.write(UnsafeRawBufferPointer(message)) { wantWriteCount += 1 }
        }
        let wantWriteAllocations = (counter?() ?? 0) - beforeWantWrite
        #expect(wantWriteCount == 1000)

        if counter != nil {
            print("allocations: 1000 x 4 KiB write+read round trips: \(dataAllocations); "
                + "1000 x .wantRead: \(wantReadAllocations); 1000 x .wantWrite: \(wantWriteAllocations)")
            #expect(wantReadAllocations == 0)
            #expect(wantWriteAllocations == 0)
        }
    }

    @Test func bioCallsRefuseSocketConnections() throws {
        let (client, _, fds) = try connectedSocketPair()
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        for call in [{ _ = try client.bioRead(10) }, { _ = try client.bioWrite([1, 2]) }, { try client.bioShutdown() }] {
            #expect {
                try call()
            } throws: { error in
                if case SSLError.wrongTransport = error { return true }
                return false
            }
        }
    }

    /// Fills the client's send path until OpenSSL reports wantWrite. Returns the pending chunk.
    func fillUntilWantWrite(_ client: Connection) throws -> [UInt8] {
        let chunk = [UInt8](repeating: 0x42, count: 8192)
        for _ in 0..<10_000 {
            do { try client.send(chunk) } catch SSLError.wantWrite { return chunk }
        }
        throw TestSupportError("the socket never filled up")
    }

    /// Reads everything the server can get right now.
    func drain(_ server: Connection) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<10_000 {
            guard case .done = buffer.withUnsafeMutableBytes({ server.read(into: $0) }) else { return }
        }
    }

    @Test(arguments: [true, false]) func retryAfterWantWriteWithAMovedBuffer(acceptMoving: Bool) throws {
        let (client, server, fds) = try connectedSocketPair(bufferSize: 4096)
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        if !acceptMoving { client.clearMode(SSL.MODE_ACCEPT_MOVING_WRITE_BUFFER) }
        let pendingChunk = try fillUntilWantWrite(client)
        #expect(client.wantWrite())
        // Same bytes, certainly at another address (the original is still alive).
        let moved = Array(pendingChunk) + []
        let deadline = Date().addingTimeInterval(10)
        var outcome: Result<Int, any Error>?
        while outcome == nil, Date() < deadline {
            drain(server)
            do {
                outcome = .success(try moved.withUnsafeBytes { try client.send($0) })
            } catch SSLError.wantWrite {
                continue
            } catch {
                outcome = .failure(error)
            }
        }
        withExtendedLifetime(pendingChunk) {}
        switch outcome {
        case .success(let count):
            #expect(acceptMoving)
            #expect(count > 0)
        case .failure(let error):
            #expect(!acceptMoving)
            #expect((error as? SSLError)?.entries.contains { $0.reason == "bad write retry" } == true, "\(error)")
        case nil:
            Issue.record("retry never completed")
        }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func handshakeReportsWantWrite() throws {
        // pyOpenSSL's test_wantWriteError: a socket whose send buffer is full makes the handshake wait.
        let fds = try loopbackSocketPair()
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        var size: Int32 = 4096
        _ = Glibc.setsockopt(fds.client, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        _ = Glibc.setsockopt(fds.server, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let junk = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<10_000 where junk.withUnsafeBytes({ Glibc.write(fds.client, $0.baseAddress, $0.count) }) > 0 {}
        #expect(errno == EAGAIN)
        let client = try Connection(context: pki.makeClientContext(), socket: fds.client)
        client.setConnectState()
        #expect(throws: SSLError.wantWrite) { try client.doHandshake() }
    }

    @Test func sendAllReportsHowMuchWentOut() throws {
        let (client, _, fds) = try connectedSocketPair(bufferSize: 4096)
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        let message = [UInt8](repeating: 0x43, count: 4 * 1024 * 1024)
        #expect {
            try client.sendAll(message)
        } throws: { error in
            guard case SSLError.incompleteSend(let sent, let cause) = error else { return false }
            return sent > 0 && sent < message.count && cause == .wantWrite
        }
    }

    @Test func sendAllAfterSocketShutdownIsEPIPE() throws {
        let (_, server, fds) = try connectedSocketPair()
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        try server.sockShutdown(Connection.SHUT_RDWR)
        #expect {
            try server.sendAll(Array("hello".utf8))
        } throws: { error in
            guard case SSLError.incompleteSend(0, .sysCall(let code, let name)) = error else { return false }
            return code == EPIPE && name == "EPIPE"
        }
    }

    @Test func shutdownAfterSocketShutdownIsEPIPE() throws {
        let (_, server, fds) = try connectedSocketPair()
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        try server.sockShutdown(Connection.SHUT_RDWR)
        #expect(throws: SSLError.sysCall(errno: EPIPE, message: "EPIPE")) { try server.shutdown() }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func eofWithoutCloseNotifyIsUnexpectedEOF() throws {
        let (client, server, fds) = try connectedSocketPair()
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        try client.sockShutdown(Connection.SHUT_WR)
        let deadline = Date().addingTimeInterval(5)
        var result: TLSIOResult = .wantRead
        var buffer = [UInt8](repeating: 0, count: 64)
        while case .wantRead = result, Date() < deadline {
            result = buffer.withUnsafeMutableBytes { server.read(into: $0) }
            usleep(100)
        }
        guard case .unexpectedEOF = result else { Issue.record("got \(result)"); return }
    }

    @Test func cleanCloseOverSockets() throws {
        let (client, server, fds) = try connectedSocketPair()
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        #expect(try client.shutdown() == false)
        let deadline = Date().addingTimeInterval(5)
        var sawClose = false
        while !sawClose, Date() < deadline {
            do { _ = try server.recv(100) } catch SSLError.zeroReturn { sawClose = true } catch SSLError.wantRead { usleep(100) }
        }
        #expect(sawClose)
        #expect(try server.shutdown() == true)
        var done = false
        while !done, Date() < deadline {
            do { done = try client.shutdown() } catch SSLError.wantRead { usleep(100) }
        }
        #expect(done)
    }

    @Test func bindListenAcceptConnect() throws {
        let serverContext = try pki.makeServerContext()
        let listenerFD = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { closeSocket(listenerFD) }
        let listener = try Connection(context: serverContext, socket: listenerFD)
        try listener.bind(.ipv4(host: "127.0.0.1", port: 0))
        try listener.listen(8)
        let local = try listener.getsockname()
        guard case .ipv4("127.0.0.1", let port) = local, port != 0 else { Issue.record("bound to \(local)"); return }

        let clientFD = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { closeSocket(clientFD) }
        let client = try Connection(context: pki.makeClientContext(), socket: clientFD)
        try client.setblocking(false)
        #expect(fcntl(clientFD, F_GETFL) & O_NONBLOCK != 0)
        let code = try client.connectEx(.ipv4(host: "127.0.0.1", port: port))
        #expect(code == 0 || code == EINPROGRESS)

        let (accepted, peer) = try listener.accept()
        defer { try? accepted.close() }
        #expect(accepted.getContext() === serverContext)
        #expect(try peer == client.getsockname())
        #expect(try accepted.getpeername() == client.getsockname())
        #expect(try accepted.getsockname() == client.getpeername())
        #expect(fcntl(try accepted.fileno(), F_GETFD) & FD_CLOEXEC != 0)
        try accepted.setblocking(false)
        try handshakeOverSockets(client: client, server: accepted)
        try client.sendAll(Array("over accept".utf8))
        var got: [UInt8] = []
        let deadline = Date().addingTimeInterval(5)
        while got.isEmpty, Date() < deadline {
            do { got = try accepted.recv(100) } catch SSLError.wantRead { usleep(100) }
        }
        #expect(got == Array("over accept".utf8))
    }

    @Test func connectRefused() throws {
        let port = try freeLoopbackPort()
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { closeSocket(fd) }
        let client = try Connection(context: pki.makeClientContext(), socket: fd)
        #expect(throws: SSLError.sysCall(errno: ECONNREFUSED, message: "ECONNREFUSED")) {
            try client.connect(.ipv4(host: "127.0.0.1", port: port))
        }
    }

    @Test func socketOptions() throws {
        let (client, _, fds) = try connectedSocketPair()
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        try client.setsockopt(level: Int32(IPPROTO_TCP), option: TCP_NODELAY, value: 1)
        #expect(try client.getsockopt(level: Int32(IPPROTO_TCP), option: TCP_NODELAY) != 0)
        try client.setsockopt(level: Int32(IPPROTO_TCP), option: TCP_NODELAY, value: 0)
        #expect(try client.getsockopt(level: Int32(IPPROTO_TCP), option: TCP_NODELAY) == 0)
        let raw = try client.getsockopt(level: SOL_SOCKET, option: SO_TYPE, length: 4)
        #expect(raw.count == 4)
        #expect(raw.withUnsafeBytes { $0.load(as: Int32.self) } == Int32(SOCK_STREAM.rawValue))
        try client.setsockopt(level: SOL_SOCKET, option: SO_KEEPALIVE, bytes: withUnsafeBytes(of: Int32(1)) { Array($0) })
        #expect(try client.getsockopt(level: SOL_SOCKET, option: SO_KEEPALIVE) == 1)
        #expect(throws: SSLError.self) { try client.setsockopt(level: SOL_SOCKET, option: -1, value: 1) }
    }

    @Test func closeDetachesTheDescriptor() throws {
        let fds = try loopbackSocketPair()
        defer { closeSocket(fds.server) }
        let server = try Connection(context: pki.makeServerContext(), socket: fds.server)
        let client = try Connection(context: pki.makeClientContext(), socket: fds.client)
        try handshakeOverSockets(client: client, server: server)
        // Consume the TLS 1.3 session tickets first: closing with unread data would send a RST (ECONNRESET).
        #expect(throws: SSLError.wantRead) { try client.recv(100) }
        try client.close()
        try client.close() // second close is a no-op
        #expect(throws: SSLError.sysCall(errno: EBADF, message: "EBADF")) { try client.fileno() }
        #expect(throws: SSLError.sysCall(errno: EBADF, message: "EBADF")) { try client.send(Array("x".utf8)) }
        // The server sees the TCP close without close_notify.
        let deadline = Date().addingTimeInterval(5)
        var result: TLSIOResult = .wantRead
        var buffer = [UInt8](repeating: 0, count: 16)
        while case .wantRead = result, Date() < deadline {
            result = buffer.withUnsafeMutableBytes { server.read(into: $0) }
            usleep(100)
        }
        guard case .unexpectedEOF = result else { Issue.record("got \(result)"); return }
    }

    @Test func unixAndIPv6Addresses() throws {
        let context = try pki.makeServerContext()
        let path = NSTemporaryDirectory() + "portcullis-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer { unlink(path) }
        let unixFD = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { closeSocket(unixFD) }
        let unixConnection = try Connection(context: context, socket: unixFD)
        try unixConnection.bind(.unix(path: path))
        #expect(try unixConnection.getsockname() == .unix(path: path))

        let v6FD = Glibc.socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        defer { closeSocket(v6FD) }
        let v6Connection = try Connection(context: context, socket: v6FD)
        try v6Connection.bind(.ipv6(host: "::1", port: 0))
        guard case .ipv6("::1", let port, _, _) = try v6Connection.getsockname() else {
            Issue.record("not bound to ::1"); return
        }
        #expect(port != 0)

        #expect(throws: SSLError.self) { try v6Connection.bind(.ipv4(host: "not an address", port: 1)) }
        #expect(throws: SSLError.self) { try unixConnection.bind(.unix(path: String(repeating: "x", count: 200))) }
    }

    @Test func kernelTLSStatusMatchesTheKernel() throws {
        let serverContext = try pki.makeServerContext(maxVersion: SSL.TLS1_2_VERSION)
        _ = try serverContext.setOptions(SSL.OP_ENABLE_KTLS)
        let clientContext = try pki.makeClientContext(maxVersion: SSL.TLS1_2_VERSION)
        _ = try clientContext.setOptions(SSL.OP_ENABLE_KTLS)
        let (client, server, fds) = try connectedSocketPair(serverContext: serverContext, clientContext: clientContext)
        defer { closeSocket(fds.client); closeSocket(fds.server) }
        // OpenSSL falls back to userspace silently when the kernel has no `tls` module.
        let kernelHasTLS = FileManager.default.fileExists(atPath: "/sys/module/tls")
        #expect(client.isKTLSSendActive() == kernelHasTLS)
        #expect(server.isKTLSSendActive() == kernelHasTLS)
        #expect(server.isKTLSRecvActive() == kernelHasTLS)
        // Data still flows either way.
        try client.sendAll(Array("ktls".utf8))
        var got: [UInt8] = []
        let deadline = Date().addingTimeInterval(5)
        while got.isEmpty, Date() < deadline {
            do { got = try server.recv(10) } catch SSLError.wantRead { usleep(100) }
        }
        #expect(got == Array("ktls".utf8))
        let memory = try Connection(context: pki.makeClientContext())
        #expect(!memory.isKTLSSendActive())
        #expect(!memory.isKTLSRecvActive())
    }
}
