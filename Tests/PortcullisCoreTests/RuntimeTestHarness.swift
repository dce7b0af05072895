import Foundation
import Glibc
import Logging
import OpenSSLSSL
import Synchronization
import Testing
@testable import PortcullisCore

// Shared pieces of the Runtime*Tests: certificates made with the `openssl` CLI, an in-test routing table,
// a blocking TLS client over our own `Connection`, a plaintext backend, and a `ProxyServer` on a thread.

/// Certificates generated once per test process into a fresh temporary directory.
struct RuntimeTestPKI: Sendable {
    let directory: String
    /// Self-signed CA that signs the server and client certificates.
    let caCert: String
    /// CN=localhost, SAN DNS:localhost, IP:127.0.0.1.
    let serverCert: String
    let serverKey: String
    /// CN=Runtime Test Client.
    let clientCert: String
    let clientKey: String

    static func shared() throws -> RuntimeTestPKI { try generated.get() }
    private static let generated: Result<RuntimeTestPKI, any Error> = Result { try generate() }

    private static func generate() throws -> RuntimeTestPKI {
        let directory = NSTemporaryDirectory() + "portcullis-runtime-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { directory + "/" + name }
        try "basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
            .write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
        try "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n"
            .write(toFile: path("client.ext"), atomically: true, encoding: .utf8)
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "3", "-subj", "/CN=Runtime Test CA"])
        for (name, subject) in [("server", "/CN=localhost"), ("client", "/CN=Runtime Test Client")] {
            try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", subject])
            try openssl(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                         "-CAcreateserial", "-days", "3", "-extfile", path("\(name).ext"), "-out", path("\(name).pem")])
        }
        return RuntimeTestPKI(directory: directory, caCert: path("ca.pem"), serverCert: path("server.pem"),
                              serverKey: path("server.key"), clientCert: path("client.pem"), clientKey: path("client.key"))
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("openssl \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
    }

    /// A server context: the localhost certificate, optional client certificates from the test CA, ALPN `h2`
    /// or `http/1.1` when offered.
    func serverContext() throws -> Context {
        let context = try Context(method: .tlsServer)
        try context.useCertificateFile(serverCert)
        try context.usePrivateKeyFile(serverKey)
        try context.loadVerifyLocations(caFile: caCert)
        try context.setVerify(SSL.VERIFY_PEER)
        try context.setSessionId(Array("runtime-tests".utf8))
        try context.setALPNSelectCallback { _, offered in
            for wanted in ["h2", "http/1.1"] where offered.contains(Array(wanted.utf8)) {
                return .select(Array(wanted.utf8))
            }
            return .noOverlap
        }
        return context
    }

    /// A client context that trusts the test CA; with `withCertificate`, it presents the client certificate.
    func clientContext(withCertificate: Bool = false, alpn: [String] = []) throws -> Context {
        let context = try Context(method: .tlsClient)
        try context.loadVerifyLocations(caFile: caCert)
        try context.setVerify(SSL.VERIFY_PEER)
        if withCertificate {
            try context.useCertificateFile(clientCert)
            try context.usePrivateKeyFile(clientKey)
        }
        if !alpn.isEmpty { try context.setALPNProtos(alpn) }
        return context
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A routed host with a fixed policy decision.
final class TestHost: RoutedHost {
    let name: String
    let backends: [BackendAddress]
    let proxyProtocol: ProxyProtocolVersion
    let decision: PolicyDecision

    init(name: String = "test-host", backends: [BackendAddress], proxyProtocol: ProxyProtocolVersion = .off,
         decision: PolicyDecision = .allow) {
        self.name = name
        self.backends = backends
        self.proxyProtocol = proxyProtocol
        self.decision = decision
    }

    func admits(_ connection: Connection) -> PolicyDecision { decision }
}

/// A table with one context and one host for the listener named `listener`.
final class TestRouter: ConnectionRouter {
    let listener: String
    let context: Context
    let host: TestHost

    init(listener: String = "main", context: Context, host: TestHost) {
        self.listener = listener
        self.context = context
        self.host = host
    }

    func handshakeContext(forListener listener: String) -> Context? {
        listener == self.listener ? context : nil
    }

    func routedHost(for connection: Connection) -> (any RoutedHost)? { host }
}

// MARK: Sockets

enum TestSocket {
    /// A blocking TCP connection to 127.0.0.1:`port`, with 5 s send/receive timeouts so a bug cannot hang the
    /// test run.
    static func connect(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed: errno \(errno)") }
        setTimeouts(fd, seconds: 5)
        let address = SocketAddress(numericHost: "127.0.0.1", port: port)!
        guard address.withSockaddr({ Glibc.connect(fd, $0, $1) }) == 0 else {
            let code = errno
            close(fd)
            throw TestFailure("connect to port \(port) failed: errno \(code)")
        }
        return fd
    }

    static func setTimeouts(_ fd: Int32, seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw TestFailure("send failed: errno \(errno)") }
            offset += sent
        }
    }

    enum End: Equatable { case eof, reset, timeout, error(Int32) }

    /// Reads until EOF, reset, error or timeout; returns the bytes and how the stream ended.
    static func readToEnd(_ fd: Int32, limit: Int = .max) -> ([UInt8], End) {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while received.count < limit {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += chunk[0..<count]
                continue
            }
            if count == 0 { return (received, .eof) }
            switch errno {
            case ECONNRESET: return (received, .reset)
            case EAGAIN, EWOULDBLOCK: return (received, .timeout)
            case let code: return (received, .error(code))
            }
        }
        return (received, .eof)
    }

    /// Reads exactly `count` bytes (or throws).
    static func readExactly(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while received.count < count {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - received.count), 0) }
            guard got > 0 else { throw TestFailure("read \(received.count)/\(count) bytes, then recv returned \(got) errno \(errno)") }
            received += chunk[0..<got]
        }
        return received
    }
}

/// A plaintext TCP backend on 127.0.0.1 (ephemeral port).
final class TestBackend: @unchecked Sendable {
    let fd: Int32
    let port: UInt16

    /// Listens on `host` (a loopback address) and `port` (0: the kernel chooses).
    init(host: String = "127.0.0.1", port: UInt16 = 0) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var on: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        let address = SocketAddress(numericHost: host, port: port)!
        guard address.withSockaddr({ bind(listener, $0, $1) }) == 0, listen(listener, 64) == 0,
              let bound = SocketAddress.local(of: listener)?.port else {
            close(listener)
            throw TestFailure("backend bind/listen failed: errno \(errno)")
        }
        fd = listener
        self.port = bound
    }

    deinit { close(fd) }

    var address: BackendAddress { .tcp(host: "127.0.0.1", port: port) }

    /// Accepts one connection, waiting at most `seconds`.
    func accept(seconds: Int = 5) throws -> Int32 {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(seconds * 1000)) == 1 else { throw TestFailure("no connection reached the backend") }
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw TestFailure("backend accept failed: errno \(errno)") }
        TestSocket.setTimeouts(client, seconds: 5)
        return client
    }

    /// True when a connection is waiting to be accepted within `milliseconds`.
    func hasPendingConnection(milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) == 1
    }
}

/// A port nothing listens on (bound, then closed).
func unusedPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    let address = SocketAddress(numericHost: "127.0.0.1", port: 0)!
    _ = address.withSockaddr { bind(fd, $0, $1) }
    return SocketAddress.local(of: fd)?.port ?? 9
}

// MARK: TLS client

/// A TLS client over our own `Connection` on a blocking socket (5 s timeouts).
final class TestTLSClient {
    let fd: Int32
    let tls: Connection

    init(port: UInt16, context: Context, serverName: String? = "localhost") throws {
        fd = try TestSocket.connect(port: port)
        do {
            tls = try Connection(context: context, socket: fd)
        } catch {
            close(fd)
            throw error
        }
        if let serverName { try tls.setTLSExtHostName(serverName) }
        tls.setConnectState()
    }

    deinit { close(fd) }

    func handshake() throws { try tls.doHandshake() }

    func send(_ bytes: [UInt8]) throws { try tls.sendAll(bytes) }

    /// Reads until `count` bytes arrived, the peer's close_notify, or an error (thrown after the bytes).
    func receive(_ count: Int) throws -> [UInt8] {
        var received: [UInt8] = []
        while received.count < count {
            received += try tls.recv(min(65536, count - received.count))
        }
        return received
    }

    /// Reads until the peer's close_notify; returns the bytes. Throws on EOF without close_notify or errors.
    func receiveUntilCloseNotify() throws -> [UInt8] {
        var received: [UInt8] = []
        while true {
            do {
                received += try tls.recv(65536)
            } catch SSLError.zeroReturn {
                return received
            }
        }
    }

    /// Sends close_notify (our half-close).
    func closeNotify() throws { _ = try tls.shutdown() }

    /// Closes TCP without close_notify (what a truncation attack or a crashed client looks like).
    func closeWithoutCloseNotify() { shutdown(fd, Connection.SHUT_WR) }

    /// Full duplex: sends `outgoing` then close_notify, while reading until the peer's close_notify.
    /// Non-blocking with poll, because one `Connection` cannot be driven by two threads.
    func exchange(_ outgoing: [UInt8], timeoutSeconds: Int = 60) throws -> [UInt8] {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        var sent = 0
        var shutdownSent = false
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var peerClosed = false
        let deadline = Date().addingTimeInterval(TimeInterval(timeoutSeconds))
        while !(peerClosed && shutdownSent) {
            guard Date() < deadline else { throw TestFailure("exchange timed out: sent \(sent), received \(received.count)") }
            var wantWrite = false
            var progressed = false
            if sent < outgoing.count {
                let result = outgoing[sent...].withUnsafeBytes { tls.write($0) }
                switch result {
                case .done(let count): sent += count; progressed = true
                case .wantWrite: wantWrite = true
                case .wantRead: break
                default: throw TestFailure("client write: \(result)")
                }
            } else if !shutdownSent {
                switch tls.shutdownStep() {
                case .done, .closed: shutdownSent = true; progressed = true
                case .wantWrite: wantWrite = true
                case .wantRead: break
                case let other: throw TestFailure("client shutdown: \(other)")
                }
            }
            if !peerClosed {
                let result = buffer.withUnsafeMutableBytes { tls.read(into: $0) }
                switch result {
                case .done(let count): received += buffer[0..<count]; progressed = true
                case .closed: peerClosed = true; progressed = true
                case .wantRead, .wantWrite: break
                default: throw TestFailure("client read: \(result)")
                }
            }
            if !progressed {
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN) | (wantWrite ? Int16(POLLOUT) : 0), revents: 0)
                _ = poll(&descriptor, 1, 100)
            }
        }
        _ = fcntl(fd, F_SETFL, flags)
        return received
    }
}

// MARK: Server on a thread

/// Collects access-log records from worker threads.
final class RecordCollector: Sendable {
    private let records = Mutex<[ConnectionRecord]>([])

    var sink: @Sendable (ConnectionRecord) -> Void { { record in self.records.withLock { $0.append(record) } } }

    var all: [ConnectionRecord] { records.withLock { $0 } }

    /// Waits until `count` records arrived (at most `seconds`).
    func waitFor(count: Int, seconds: Double = 5) -> [ConnectionRecord] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let current = all
            if current.count >= count { return current }
            usleep(5_000)
        }
        return all
    }
}

/// A `ProxyServer` running `run(handlingSignals: false)` on its own thread.
final class RunningProxy: @unchecked Sendable {
    let server: ProxyServer
    let records = RecordCollector()
    let port: UInt16
    private let finished = ExitStatus()
    private let done = DispatchSemaphore(value: 0)

    init(router: any ConnectionRouter, workers: Int = 1, maxConnections: Int = 1000,
         timeouts: Timeouts = Timeouts(handshake: .seconds(5), idle: .seconds(30), backendConnect: .seconds(2)),
         drainTimeout: Duration = .seconds(5),
         reload: (@Sendable () throws -> any ConnectionRouter)? = nil,
         resolver: BackendAddressBook.Resolver? = nil, resolveInterval: Duration = .seconds(30),
         metrics: ProxyMetrics? = nil) throws {
        let listenAddress = ListenAddress(host: "127.0.0.1", port: 0, family: .ipv4)
        var configuration = ProxyConfiguration(
            workers: workers, maxConnections: maxConnections, timeouts: timeouts, drainTimeout: drainTimeout,
            listeners: [ListenerConfiguration(name: "main", addresses: [listenAddress], hosts: [], defaultHost: nil)]
        )
        configuration.backendResolveInterval = resolveInterval
        var logger = Logger(label: "runtime-tests")
        logger.logLevel = .critical
        let records = self.records
        server = try ProxyServer(
            configuration: configuration, router: router,
            reload: reload ?? { throw ReloadError("no reload in this test") },
            accessLog: records.sink, logger: logger
        )
        if let resolver { server.addressBook = BackendAddressBook(resolver: resolver) }
        server.metrics = metrics
        try server.bind()
        guard let bound = server.listenAddresses["main"]?.first?.port else { throw TestFailure("no bound port") }
        port = bound
        let server = self.server
        let finished = self.finished
        let done = self.done
        Thread.detachNewThread {
            let status = (try? server.run(handlingSignals: false)) ?? -1
            finished.value.withLock { $0 = status }
            done.signal()
        }
    }

    /// Drains and waits for `run` to return; returns its status.
    @discardableResult
    func stop(seconds: Int = 10) -> Int32? {
        server.drain()
        return waitForExit(seconds: seconds)
    }

    /// Waits for `run` to return (after a drain started elsewhere).
    func waitForExit(seconds: Int) -> Int32? {
        guard done.wait(timeout: .now() + .seconds(seconds)) == .success else { return nil }
        return finished.value.withLock { $0 }
    }
}

/// The status `run` returned, set from the server's thread.
final class ExitStatus: Sendable {
    let value = Mutex<Int32?>(nil)
}

/// A simple polling wait.
func eventually(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}

/// FNV-1a, to compare large transfers without keeping both copies around.
func checksum(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    return hash
}

/// Deterministic pseudo-random bytes.
func testBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}
