import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plaintext TCP backend on 127.0.0.1 running in the test process (a thread per connection is fine here).
///
/// It records every byte each connection sent, so tests can check what reached the backend (PROXY headers,
/// nothing at all after a refused handshake), and replies according to `mode`.
final class TestBackend: @unchecked Sendable {
    enum Mode {
        /// Sends back everything it receives; half-closes when the client half-closes.
        case echo
        /// Sends `greeting` on accept, then records what arrives until EOF.
        case greet(String)
        /// Sends `payload` and, concurrently, reads until EOF; then closes.
        case sendAndReceive(Data)
        /// Replies to anything with a minimal HTTP/1.0 200 response carrying `body`, then closes.
        case http(String)
        /// Replies to a request with an empty HTTP/1.0 response of this status code, then closes.
        case httpStatus(Int)
    }

    let port: UInt16
    private let listener: Int32
    private let mode: Mode
    private let lock = NSLock()
    private var received: [Data] = []
    private var accepted = 0
    private var stopped = false

    /// Listens on `port` (0: an ephemeral port, read back into `port`).
    init(mode: Mode, port: UInt16 = 0) throws {
        self.mode = mode
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw IntegrationError.setup("socket: \(errno)") }
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 128) == 0 else { throw IntegrationError.setup("bind/listen: \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        self.port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Bytes received so far, one entry per accepted connection, in accept order.
    var connections: [Data] {
        lock.lock(); defer { lock.unlock() }
        return received
    }

    var acceptedCount: Int {
        lock.lock(); defer { lock.unlock() }
        return accepted
    }

    /// Waits until `count` connections have been accepted and have reached EOF, or the timeout passes.
    func waitForConnections(_ count: Int, timeout: TimeInterval = 10) -> [Data] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            lock.lock()
            let done = finished >= count
            lock.unlock()
            if done { break }
            usleep(20_000)
        }
        return connections
    }

    private var finished = 0

    /// Closes the listening socket. Idempotent: `deinit` (which runs when the accept thread lets go, possibly
    /// during a later test) must not close the descriptor number again, by then another socket's.
    func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        lock.unlock()
        guard !wasStopped else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                lock.lock(); let done = stopped; lock.unlock()
                if done || errno == EBADF || errno == EINVAL { return }
                continue
            }
            lock.lock()
            let index = received.count
            received.append(Data())
            accepted += 1
            lock.unlock()
            Thread.detachNewThread { [self] in serve(fd, index: index) }
        }
    }

    private func record(_ index: Int, _ bytes: UnsafeRawBufferPointer) {
        lock.lock()
        received[index].append(contentsOf: bytes)
        lock.unlock()
    }

    private func sendAll(_ fd: Int32, _ data: Data) {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { return }
                offset += n
            }
        }
    }

    /// Reads (and records) an HTTP request up to the blank line after its headers, or until EOF.
    private func readRequestHead(_ fd: Int32, index: Int) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var request = Data()
        while !request.contains("\r\n\r\n".data(using: .utf8)!) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            buffer.withUnsafeBytes { record(index, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            request.append(contentsOf: buffer[0..<n])
        }
    }

    private func serve(_ fd: Int32, index: Int) {
        defer {
            close(fd)
            lock.lock(); finished += 1; lock.unlock()
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        switch mode {
        case .echo:
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                buffer.withUnsafeBytes { record(index, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                sendAll(fd, Data(buffer[0..<n]))
            }
            shutdown(fd, Int32(SHUT_WR))
        case .greet(let greeting):
            sendAll(fd, Data(greeting.utf8))
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                buffer.withUnsafeBytes { record(index, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
        case .sendAndReceive(let payload):
            let writer = Thread { [self] in
                sendAll(fd, payload)
                shutdown(fd, Int32(SHUT_WR))
            }
            writer.start()
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                buffer.withUnsafeBytes { record(index, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            while !writer.isFinished { usleep(5_000) }
        case .http(let body):
            readRequestHead(fd, index: index)
            sendAll(fd, Data("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8))
        case .httpStatus(let code):
            readRequestHead(fd, index: index)
            sendAll(fd, Data("HTTP/1.0 \(code) Status\r\nContent-Length: 0\r\n\r\n".utf8))
        }
    }
}

extension Data {
    func contains(_ other: Data) -> Bool { range(of: other) != nil }
}
