import Foundation
import Glibc
import OpenSSLSSL
import Testing
@testable import PortcullisCore

/// The data path end to end, in process: a real `ProxyServer` on a thread, a TLS client over our own
/// `Connection`, and a plaintext backend, all on 127.0.0.1.
@Suite struct RuntimeProxyTests {
    let pki: RuntimeTestPKI

    init() throws {
        pki = try RuntimeTestPKI.shared()
    }

    private func proxy(backends: [BackendAddress], proxyProtocol: ProxyProtocolVersion = .off,
                       decision: PolicyDecision = .allow, maxConnections: Int = 1000,
                       timeouts: Timeouts = Timeouts(handshake: .seconds(5), idle: .seconds(30), backendConnect: .seconds(2)))
        throws -> RunningProxy {
        let router = TestRouter(context: try pki.serverContext(),
                                host: TestHost(backends: backends, proxyProtocol: proxyProtocol, decision: decision))
        return try RunningProxy(router: router, maxConnections: maxConnections, timeouts: timeouts)
    }

    @Test func roundTripWithHalfCloseFromTheClient() throws {
        let backend = try TestBackend()
        let proxy = try proxy(backends: [backend.address])
        defer { proxy.stop() }

        let client = try TestTLSClient(port: proxy.port, context: pki.clientContext(alpn: ["h2"]))
        try client.handshake()
        try client.send(Array("hello".utf8))
        try client.closeNotify()

        let upstream = try backend.accept()
        defer { close(upstream) }
        // The client's close_notify arrives as a FIN after its bytes.
        let (request, end) = TestSocket.readToEnd(upstream)
        #expect(String(decoding: request, as: UTF8.self) == "hello")
        #expect(end == .eof)
        // The other direction is still open: the backend answers, then closes.
        try TestSocket.sendAll(upstream, Array("world".utf8))
        shutdown(upstream, Connection.SHUT_WR)
        let response = try client.receiveUntilCloseNotify()
        #expect(String(decoding: response, as: UTF8.self) == "world")

        let record = try #require(proxy.records.waitFor(count: 1).first)
        #expect(record.closeReason == "client_close")
        #expect(record.error == nil)
        #expect(record.bytesFromClient == 5 && record.bytesToClient == 5)
        #expect(record.serverName == "localhost")
        #expect(record.host == "test-host")
        #expect(record.tlsVersion == "TLSv1.3")
        #expect(record.alpn == "h2")
        #expect(record.cipher != nil)
        #expect(record.backend == "127.0.0.1:\(backend.port)")
        #expect(record.listener == "main")
        #expect(record.handshakeDuration != nil)
        #expect(record.clientVerify == "none")
        #expect(proxy.server.openConnections == 0)
    }

    @Test func backendFinBecomesCloseNotifyAndTheClientCanStillSend() throws {
        let backend = try TestBackend()
        let proxy = try proxy(backends: [backend.address])
        defer { proxy.stop() }

        let client = try TestTLSClient(port: proxy.port, context: pki.clientContext())
        try client.handshake()
        try client.send(Array("x".utf8))  // makes the proxy connect
        let upstream = try backend.accept()
        defer { close(upstream) }
        #expect(try TestSocket.readExactly(upstream, 1) == Array("x".utf8))
        try TestSocket.sendAll(upstream, Array("banner".utf8))
        shutdown(upstream, Connection.SHUT_WR)
        #expect(try client.receiveUntilCloseNotify() == Array("banner".utf8))

        // TLS 1.3 half-close: after the server's close_notify the client keeps sending.
        try client.send(Array("late data".utf8))
        try client.closeNotify()
        let (rest, end) = TestSocket.readToEnd(upstream)
        #expect(String(decoding: rest, as: UTF8.self) == "late data")
        #expect(end == .eof)
        let record = try #require(proxy.records.waitFor(count: 1).first)
        #expect(record.closeReason == "backend_close")
        #expect(record.bytesFromClient == 10 && record.bytesToClient == 6)
    }

    @Test func largeTransfersBothWaysAtOnce() throws {
        let backend = try TestBackend()
        let proxy = try proxy(backends: [backend.address])
        defer { proxy.stop() }
        let toBackend = testBytes(6 << 20, seed: 1)
        let toClient = testBytes(6 << 20 + 12345, seed: 2)

        let client = try TestTLSClient(port: proxy.port, context: pki.clientContext())
        try client.handshake()
        let backendResult = BackendTransfer()
        let backendDone = DispatchSemaphore(value: 0)
        let backendPort = backend
        Thread.detachNewThread {
            defer { backendDone.signal() }
            guard let upstream = try? backendPort.accept() else { return }
            TestSocket.setTimeouts(upstream, seconds: 60)
            let writer = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                try? TestSocket.sendAll(upstream, toClient)
                shutdown(upstream, Connection.SHUT_WR)
                writer.signal()
            }
            let (received, end) = TestSocket.readToEnd(upstream)
            writer.wait()
            close(upstream)
            backendResult.set(received: received, end: end)
        }
        let received = try client.exchange(toBackend)
        #expect(backendDone.wait(timeout: .now() + 60) == .success)
        #expect(received.count == toClient.count)
        #expect(checksum(received) == checksum(toClient))
        let (atBackend, end) = backendResult.get()
        #expect(atBackend.count == toBackend.count)
        #expect(checksum(atBackend) == checksum(toBackend))
        #expect(end == .eof)
        let record = try #require(proxy.records.waitFor(count: 1).first)
        #expect(record.bytesFromClient == UInt64(toBackend.count))
        #expect(record.bytesToClient == UInt64(toClient.count))
    }

    /// A backend name is resolved off the event loops and again every `backend_resolve_interval`: when its
    /// address changes, new connections go to the new address without a reload.
    @Test func aBackendNameThatMovesIsFollowedWithoutAReload() throws {
        let first = try TestBackend(host: "127.0.0.2")
        let second = try TestBackend(host: "127.0.0.3", port: first.port)
        let dns = ScriptedDNS()
        dns.set("app.test", ["127.0.0.2"])
        let backend = BackendAddress.tcp(host: "app.test", port: first.port)
        let router = TestRouter(context: try pki.serverContext(), host: TestHost(backends: [backend]))
        let proxy = try RunningProxy(router: router, resolver: dns.resolver, resolveInterval: .milliseconds(50))
        defer { proxy.stop() }

        func roundTrip(through backend: TestBackend) throws -> String {
            let client = try TestTLSClient(port: proxy.port, context: pki.clientContext())
            try client.handshake()
            try client.send(Array("ping".utf8))
            let upstream = try backend.accept()
            defer { close(upstream) }
            let received = try TestSocket.readExactly(upstream, 4)
            try client.closeNotify()
            return String(decoding: received, as: UTF8.self)
        }
        #expect(try roundTrip(through: first) == "ping")
        dns.set("app.test", ["127.0.0.3"])
        #expect(eventually { proxy.server.addressBook.known(backend)?.map(\.hostText) == ["127.0.0.3"] })
        #expect(try roundTrip(through: second) == "ping", "the next connection goes to the new address")
        let records = proxy.records.waitFor(count: 2)
        #expect(records.count == 2 && records.allSatisfy { $0.backend == "app.test:\(first.port)" }, "\(records)")
    }

    @Test func truncatedClientStreamResetsTheBackend() throws {
        let backend = try TestBackend()
        let proxy = try proxy(backends: [backend.address])
        defer { proxy.stop() }

        let client = try TestTLSClient(port: proxy.port, context: pki.clientContext())
        try client.handshake()
        try client.send(Array("partial".utf8))
        let upstream = try backend.accept()
        defer { close(upstream) }
        #expect(try TestSocket.readExactly(upstream, 7) == Array("partial".utf8))
        client.closeWithoutCloseNotify()
        // EOF without close_notify must not look like a clean end to the backend.
        let (_, end) = TestSocket.readToEnd(upstream)
        #expect(end == .reset)
        let record = try #require(proxy.records.waitFor(count: 1).first)
        #expect(record.closeReason == "truncated")
    }

    @Test func backendResetResetsTheClient() throws {
        let backend = try TestBackend()
        let proxy = try proxy(backends: [backend.address])
        defer { proxy.stop() }

        let client = try TestTLSClient(port: proxy.port, context: pki.clientContext())
        try client.handshake()
        try client.send(Array("ping".utf8))
        let upstream = try backend.accept()
        #expect(try TestSocket.readExactly(upstream, 4) == Array("ping".utf8))
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(upstream, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(upstream)
        // No close_notify may reach the client: it sees the connection reset.
        do {
            _ = try client.receiveUntilCloseNotify()
            Issue.record("the client saw a clean close after a backend reset")
        } catch let error as SSLError {
            if case .sysCall(let code, _) = error {
                #expect(code == ECONNRESET || code == -1)
            } else {
                Issue.record("unexpected error \(error)")
            }
        }
        let record = try #require(proxy.records.waitFor(count: 1).first)
        #expect(record.closeReason == "backend_reset")
    }

    @Test func failoverToTheNextBackendAndRoundRobin() throws {
        let good = try TestBackend()
        let dead = BackendAddress.tcp(host: "127.0.0.1", port: unusedPort())
        let proxy = try proxy(backends: [dead, good.address])
        defer { proxy.stop() }

        for round in 0..<2 {
            let client = try TestTLSClient(port: proxy.port, context: pki.clientContext())
            try client.handshake()
            try client.send([UInt8(round)])
            let upstream = try good.accept()
            #expect(try TestSocket.readExactly(upstream, 1) == [UInt8(round)])
            close(upstream)
            #expect(try client.receiveUntilCloseNotify().isEmpty)
        }
        let records = proxy.records.waitFor(count: 2)
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0.backend == "127.0.0.1:\(good.port)" })
    }

    @Test func noBackendClosesCleanlyWithALogLine() throws {
        let proxy = try proxy(backends: [.tcp(host: "127.0.0.1", port: unusedPort()), .unix(path: "/nonexistent/portcullis.sock")])
        defer { proxy.stop() }
        let client = try TestTLSClient(port: proxy.port, context: pki.clientContext())
        try client.handshake()
        #expect(try client.receiveUntilCloseNotify().isEmpty)
        let record = try #require(proxy.records.waitFor(count: 1).first)
        #expect(record.closeReason == "backend_unavailable")
        #expect(record.error?.contains("ECONNREFUSED") == true || record.error?.contains("refused") == true
            || record.error?.contains("No such file") == true)
    }

    @Test func unixSocketBackend() throws {
        let path = pki.directory + "/backend-\(UInt32.random(in: 0...UInt32.max)).sock"
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener); unlink(path) }
        let address = try #require(SocketAddress(unixPath: path))
        #expect(address.withSockaddr { bind(listener, $0, $1) } == 0)
        #expect(listen(listener, 8) == 0)
        let proxy = try proxy(backends: [.unix(path: path)], proxyProtocol: .v1)
        defer { proxy.stop() }

        let client = try TestTLSClient(port: proxy.port, context: pki.clientContext())
        try client.handshake()
        try client.send(Array("over unix".utf8))
        try client.closeNotify()
        let upstream = Glibc.accept(listener, nil, nil)
        #expect(upstream >= 0)
        defer { close(upstream) }
        TestSocket.setTimeouts(upstream, seconds: 5)
        let (bytes, end) = TestSocket.readToEnd(upstream)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("PROXY TCP4 127.0.0.1 127.0.0.1 "))
        #expect(text.hasSuffix(" \(proxy.port)\r\nover unix"))
        #expect(end == .eof)
    }

    @Test func proxyProtocolVersion2AsTheBackendSeesIt() throws {
        let backend = try TestBackend()
        let proxy = try proxy(backends: [backend.address], proxyProtocol: .v2)
        defer { proxy.stop() }

        let client = try TestTLSClient(port: proxy.port, context: pki.clientContext(withCertificate: true, alpn: ["h2"]))
        try client.handshake()
        try client.send(Array("payload".utf8))
        let upstream = try backend.accept()
        defer { close(upstream) }
        let fixed = try TestSocket.readExactly(upstream, 16)
        #expect(Array(fixed[0..<12]) == ProxyProtocolHeader.v2Signature)
        #expect(fixed[12] == 0x21 && fixed[13] == 0x11)
        let length = Int(fixed[14]) << 8 | Int(fixed[15])
        let body = try TestSocket.readExactly(upstream, length)
        let clientPort = try #require(SocketAddress.local(of: client.fd)?.port)
        #expect(Array(body[0..<12]) == [127, 0, 0, 1, 127, 0, 0, 1, UInt8(clientPort >> 8), UInt8(clientPort & 0xFF),
                                         UInt8(proxy.port >> 8), UInt8(proxy.port & 0xFF)])
        let tlvs = parseTLVs(Array(body[12...]))
        #expect(tlvs[0x01] == Array("h2".utf8))
        #expect(tlvs[0x02] == Array("localhost".utf8))
        let ssl = try #require(tlvs[0x20])
        #expect(ssl[0] == 0x07)  // SSL, certificate on this connection and in the session
        #expect(Array(ssl[1..<5]) == [0, 0, 0, 0])  // verified
        let sub = parseTLVs(Array(ssl[5...]))
        #expect(sub[0x21] == Array("TLSv1.3".utf8))
        #expect(sub[0x22] == Array("Runtime Test Client".utf8))
        #expect(sub[0x23].map { String(decoding: $0, as: UTF8.self) } == client.tls.getCipherName())
        // Then the client's bytes, unchanged.
        #expect(try TestSocket.readExactly(upstream, 7) == Array("payload".utf8))
        try client.closeNotify()
        shutdown(upstream, Connection.SHUT_WR)
        #expect(try client.receiveUntilCloseNotify().isEmpty)
        let record = try #require(proxy.records.waitFor(count: 1).first)
        #expect(record.clientSubject == "/CN=Runtime Test Client")
        #expect(record.clientVerify == "ok")
        #expect(record.bytesFromClient == 7)
    }

    @Test func policyDenialReachesNoBackend() throws {
        let backend = try TestBackend()
        let proxy = try proxy(backends: [backend.address], decision: .deny("not on the allow-list"))
        defer { proxy.stop() }
        let client = try TestTLSClient(port: proxy.port, context: pki.clientContext())
        try client.handshake()
        #expect(try client.receiveUntilCloseNotify().isEmpty)
        #expect(!backend.hasPendingConnection(milliseconds: 200))
        let record = try #require(proxy.records.waitFor(count: 1).first)
        #expect(record.closeReason == "policy_denied")
        #expect(record.error == "not on the allow-list")
        #expect(record.backend == nil)
    }

    @Test func maxConnectionsRefusesWithoutAHandshake() throws {
        let backend = try TestBackend()
        let proxy = try proxy(backends: [backend.address], maxConnections: 1)
        defer { proxy.stop() }

        let first = try TestTLSClient(port: proxy.port, context: pki.clientContext())
        try first.handshake()
        #expect(eventually { proxy.server.openConnections == 1 })
        // Through to the backend before the next client comes (a client that closes before that is not
        // given a backend at all).
        let firstBackend = try backend.accept()

        let refused = try TestTLSClient(port: proxy.port, context: pki.clientContext())
        #expect(throws: (any Error).self) { try refused.handshake() }
        // No ServerHello came back: the client never got a server certificate.
        #expect(refused.tls.getPeerCertificate() == nil)

        try first.closeNotify()
        close(firstBackend)
        #expect(try first.receiveUntilCloseNotify().isEmpty)
        #expect(eventually { proxy.server.openConnections == 0 })
        let third = try TestTLSClient(port: proxy.port, context: pki.clientContext())
        try third.handshake()
        let thirdBackend = try backend.accept()
        try third.closeNotify()
        close(thirdBackend)
        // Refused connections are not access-logged as served ones: only the two served.
        #expect(proxy.records.waitFor(count: 2).count == 2)
    }

    @Test func handshakeTimeoutFreesTheConnectionWithoutDelayingOthers() throws {
        let backend = try TestBackend()
        let proxy = try proxy(backends: [backend.address],
                              timeouts: Timeouts(handshake: .milliseconds(300), idle: .seconds(30), backendConnect: .seconds(2)))
        defer { proxy.stop() }

        let silent = try TestSocket.connect(port: proxy.port)  // never sends a ClientHello
        defer { close(silent) }
        let start = Date()
        let fast = try TestTLSClient(port: proxy.port, context: pki.clientContext())
        try fast.handshake()
        #expect(Date().timeIntervalSince(start) < 0.3)
        try fast.send([1])
        let upstream = try backend.accept()
        close(upstream)

        let (_, end) = TestSocket.readToEnd(silent)
        #expect(end == .eof || end == .reset)
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.25 && elapsed < 3)
        let records = proxy.records.waitFor(count: 2)
        #expect(records.contains { $0.closeReason == "handshake_timeout" })
    }

    @Test func idleTimeoutClosesGracefully() throws {
        let backend = try TestBackend()
        let proxy = try proxy(backends: [backend.address],
                              timeouts: Timeouts(handshake: .seconds(5), idle: .milliseconds(300), backendConnect: .seconds(2)))
        defer { proxy.stop() }
        let client = try TestTLSClient(port: proxy.port, context: pki.clientContext())
        try client.handshake()
        try client.send([42])
        let upstream = try backend.accept()
        defer { close(upstream) }
        #expect(try TestSocket.readExactly(upstream, 1) == [42])
        let start = Date()
        #expect(try client.receiveUntilCloseNotify().isEmpty)
        #expect(Date().timeIntervalSince(start) >= 0.2)
        let (_, end) = TestSocket.readToEnd(upstream)
        #expect(end == .eof)
        let record = try #require(proxy.records.waitFor(count: 1).first)
        #expect(record.closeReason == "idle_timeout")
    }

    @Test func handshakeFailureIsLoggedWithTheReason() throws {
        let backend = try TestBackend()
        let proxy = try proxy(backends: [backend.address])
        defer { proxy.stop() }
        let fd = try TestSocket.connect(port: proxy.port)
        defer { close(fd) }
        try TestSocket.sendAll(fd, Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        _ = TestSocket.readToEnd(fd)
        let record = try #require(proxy.records.waitFor(count: 1).first)
        #expect(record.closeReason == "handshake_failed")
        #expect(record.error?.isEmpty == false)
        #expect(record.tlsVersion == nil)
    }
}

/// Type -> value of a TLV sequence (PROXY v2, section 2.2).
func parseTLVs(_ bytes: [UInt8]) -> [UInt8: [UInt8]] {
    var result: [UInt8: [UInt8]] = [:]
    var index = 0
    while index + 3 <= bytes.count {
        let type = bytes[index]
        let length = Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
        guard index + 3 + length <= bytes.count else { break }
        result[type] = Array(bytes[(index + 3)..<(index + 3 + length)])
        index += 3 + length
    }
    return result
}

/// What the backend thread of a bulk transfer received.
final class BackendTransfer: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [UInt8] = []
    private var end = TestSocket.End.timeout

    func set(received: [UInt8], end: TestSocket.End) {
        lock.lock()
        self.received = received
        self.end = end
        lock.unlock()
    }

    func get() -> ([UInt8], TestSocket.End) {
        lock.lock()
        defer { lock.unlock() }
        return (received, end)
    }
}
