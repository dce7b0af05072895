import CPortcullisSystem
import Foundation
import Glibc
import OpenSSLSSL
import Synchronization
import Testing
@testable import PortcullisCore

/// Reload, drain and signals.
@Suite struct RuntimeLifecycleTests {
    let pki: RuntimeTestPKI

    init() throws {
        pki = try RuntimeTestPKI.shared()
    }

    private func router(_ backend: TestBackend, name: String) throws -> TestRouter {
        TestRouter(context: try pki.serverContext(), host: TestHost(name: name, backends: [backend.address]))
    }

    /// Opens a connection and waits until its first byte reached `backend`; returns both ends.
    private func openConnection(port: UInt16, backend: TestBackend) throws -> (TestTLSClient, Int32) {
        let client = try TestTLSClient(port: port, context: pki.clientContext())
        try client.handshake()
        try client.send([0x2A])
        let upstream = try backend.accept()
        #expect(try TestSocket.readExactly(upstream, 1) == [0x2A])
        return (client, upstream)
    }

    @Test func reloadServesNewConnectionsFromTheNewTableOnly() throws {
        let oldBackend = try TestBackend()
        let newBackend = try TestBackend()
        let newRouter = try router(newBackend, name: "new")
        let reloads = Atomic<Int>(0)
        let proxy = try RunningProxy(router: try router(oldBackend, name: "old"), reload: {
            reloads.add(1, ordering: .relaxed)
            return newRouter
        })
        defer { proxy.stop() }

        let (oldClient, oldUpstream) = try openConnection(port: proxy.port, backend: oldBackend)
        defer { close(oldUpstream) }
        proxy.server.reload()
        #expect(eventually { reloads.load(ordering: .relaxed) == 1 })
        // The worker applies the new table on its next wake-up; connect until one lands on the new backend.
        var landed = false
        for _ in 0..<50 where !landed {
            let client = try TestTLSClient(port: proxy.port, context: pki.clientContext())
            try client.handshake()
            try client.send([1])
            if newBackend.hasPendingConnection(milliseconds: 200) {
                let upstream = try newBackend.accept()
                close(upstream)
                landed = true
            } else {
                close(try oldBackend.accept())
            }
        }
        #expect(landed)
        // The connection opened before the reload still runs on the old table, both ways.
        try oldClient.send(Array("still here".utf8))
        #expect(try TestSocket.readExactly(oldUpstream, 10) == Array("still here".utf8))
        try TestSocket.sendAll(oldUpstream, Array("yes".utf8))
        #expect(try oldClient.receive(3) == Array("yes".utf8))
        #expect(proxy.records.all.contains { $0.host == "new" })
    }

    @Test func failedReloadKeepsTheOldTable() throws {
        let backend = try TestBackend()
        let attempts = Atomic<Int>(0)
        let proxy = try RunningProxy(router: try router(backend, name: "old"), reload: {
            attempts.add(1, ordering: .relaxed)
            throw TestFailure("broken configuration")
        })
        defer { proxy.stop() }
        proxy.server.reload()
        #expect(eventually { attempts.load(ordering: .relaxed) == 1 })
        let (client, upstream) = try openConnection(port: proxy.port, backend: backend)
        close(upstream)
        #expect(try client.receiveUntilCloseNotify().isEmpty)
        try client.closeNotify()
        #expect(proxy.records.waitFor(count: 1).first?.host == "old")
    }

    @Test func drainStopsAcceptingAndLetsOpenConnectionsFinish() throws {
        let backend = try TestBackend()
        let proxy = try RunningProxy(router: try router(backend, name: "h"), drainTimeout: .seconds(20))
        let (client, upstream) = try openConnection(port: proxy.port, backend: backend)
        defer { close(upstream) }
        proxy.server.drain()
        // Listeners close: new connections are refused.
        #expect(eventually {
            guard let fd = try? TestSocket.connect(port: proxy.port) else { return true }
            close(fd)
            return false
        })
        // The open connection keeps working in both directions.
        try client.send(Array("during drain".utf8))
        #expect(try TestSocket.readExactly(upstream, 12) == Array("during drain".utf8))
        try TestSocket.sendAll(upstream, Array("reply".utf8))
        #expect(try client.receive(5) == Array("reply".utf8))
        // Once it finishes, run() returns 0 well before the deadline.
        try client.closeNotify()
        shutdown(upstream, Connection.SHUT_WR)
        #expect(try client.receiveUntilCloseNotify().isEmpty)
        let start = Date()
        #expect(proxy.waitForExit(seconds: 10) == 0)
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(proxy.records.all.contains { $0.closeReason == "client_close" && $0.bytesFromClient == 13 })
    }

    @Test func drainDeadlineResetsWhatIsStillOpen() throws {
        let backend = try TestBackend()
        let proxy = try RunningProxy(router: try router(backend, name: "h"), drainTimeout: .milliseconds(300))
        let (client, upstream) = try openConnection(port: proxy.port, backend: backend)
        defer { close(upstream) }
        let start = Date()
        #expect(proxy.stop() == 0)
        #expect(Date().timeIntervalSince(start) >= 0.25)
        // Reset, not close_notify: the client must not take the cut stream as complete.
        #expect(throws: (any Error).self) { _ = try client.receiveUntilCloseNotify() }
        let (_, end) = TestSocket.readToEnd(upstream)
        #expect(end == .reset)
        #expect(proxy.records.waitFor(count: 1).first?.closeReason == "drain_deadline")
    }

    @Test func severalWorkersServeConcurrentClients() throws {
        let backend = try TestBackend()
        let proxy = try RunningProxy(router: try router(backend, name: "h"), workers: 3)
        defer { proxy.stop() }
        // An echo backend on its own thread.
        let backendDone = DispatchSemaphore(value: 0)
        let echoBackend = backend
        Thread.detachNewThread {
            for _ in 0..<12 {
                guard let upstream = try? echoBackend.accept() else { break }
                let (bytes, _) = TestSocket.readToEnd(upstream)
                try? TestSocket.sendAll(upstream, bytes.reversed())
                close(upstream)
            }
            backendDone.signal()
        }
        let failures = Atomic<Int>(0)
        let group = DispatchGroup()
        let pki = self.pki
        let port = proxy.port
        for index in 0..<12 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                do {
                    let client = try TestTLSClient(port: port, context: pki.clientContext())
                    try client.handshake()
                    let message = Array("client \(index)".utf8)
                    try client.send(message)
                    try client.closeNotify()
                    if try client.receiveUntilCloseNotify() != message.reversed() { failures.add(1, ordering: .relaxed) }
                } catch {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(group.wait(timeout: .now() + 30) == .success)
        #expect(backendDone.wait(timeout: .now() + 30) == .success)
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(proxy.records.waitFor(count: 12).count == 12)
    }

    @Test func sighupReloadsAndSigtermDrainsThroughTheSignalfd() throws {
        let backend = try TestBackend()
        let reloads = Atomic<Int>(0)
        let original = try router(backend, name: "h")
        let server = try ProxyServer(
            configuration: ProxyConfiguration(
                workers: 1,
                listeners: [ListenerConfiguration(name: "main", addresses: [ListenAddress(host: "127.0.0.1", port: 0, family: .ipv4)],
                                                  hosts: [], defaultHost: nil)]
            ),
            router: original,
            reload: {
                reloads.add(1, ordering: .relaxed)
                return original
            },
            accessLog: nil, logger: .init(label: "signals")
        )
        try server.bind()
        let thread = SignalTestThread()
        thread.start { try? server.run() }
        let handle = try #require(thread.waitUntilReady())
        // The signals are blocked in that thread (and its workers), so these only reach its signalfd.
        #expect(pthread_kill(handle, portcullis_SIGHUP) == 0)
        #expect(eventually { reloads.load(ordering: .relaxed) == 1 })
        #expect(pthread_kill(handle, portcullis_SIGTERM) == 0)
        #expect(thread.waitUntilFinished(seconds: 10) == 0)
    }
}

/// A pthread that blocks SIGHUP/SIGTERM/SIGINT before doing anything, so signals sent to it with
/// `pthread_kill` stay pending for its signalfd instead of killing the test process.
final class SignalTestThread: @unchecked Sendable {
    private let lock = NSCondition()
    private var handle: pthread_t?
    private var status: Int32?
    private var body: (() -> Int32?)?

    func start(_ body: @escaping () -> Int32?) {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        pthread_create(&thread, nil, { argument in
            let owner = Unmanaged<SignalTestThread>.fromOpaque(argument!).takeRetainedValue()
            let signals: [Int32] = [portcullis_SIGHUP, portcullis_SIGTERM, portcullis_SIGINT]
            _ = signals.withUnsafeBufferPointer { portcullis_block_signals($0.baseAddress, Int32($0.count)) }
            owner.lock.lock()
            owner.handle = pthread_self()
            owner.lock.broadcast()
            owner.lock.unlock()
            let result = owner.body?() ?? -1
            owner.lock.lock()
            owner.status = result
            owner.lock.broadcast()
            owner.lock.unlock()
            return nil
        }, context)
        pthread_detach(thread)
    }

    /// The thread's handle once its signals are blocked. The server needs a moment to create its signalfd;
    /// pending signals wait for it, so sending right away is safe.
    func waitUntilReady() -> pthread_t? {
        lock.lock()
        defer { lock.unlock() }
        let deadline = Date().addingTimeInterval(5)
        while handle == nil, lock.wait(until: deadline) {}
        return handle
    }

    func waitUntilFinished(seconds: Double) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        let deadline = Date().addingTimeInterval(seconds)
        while status == nil, lock.wait(until: deadline) {}
        return status
    }
}
