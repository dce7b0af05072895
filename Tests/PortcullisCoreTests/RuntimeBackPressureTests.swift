import Foundation
import Glibc
import Logging
import OpenSSLSSL
import Testing
@testable import PortcullisCore

/// Back-pressure, deterministically: one worker's loop, the TLS client and the backend are all driven from
/// the test's thread, so the connection's buffers can be inspected between steps.
@Suite struct RuntimeBackPressureTests {
    @Test func aFullBufferStopsReadingAndBuffersNothingMore() throws {
        let pki = try RuntimeTestPKI.shared()
        let backend = try TestBackend()
        let router = TestRouter(context: try pki.serverContext(), host: TestHost(backends: [backend.address]))
        let listenerFD = try ProxyServer.listeningSocket(SocketAddress(numericHost: "127.0.0.1", port: 0)!, backlog: 16, name: "main")
        let address = try #require(SocketAddress.local(of: listenerFD))
        var configuration = ProxyConfiguration(workers: 1)
        configuration.listeners = [ListenerConfiguration(name: "main", addresses: [], hosts: [], defaultHost: nil)]
        let worker = try Worker(
            index: 0, settings: RuntimeSettings(configuration), router: router,
            sockets: [BoundSocket(fd: listenerFD, listener: "main", address: address)],
            limiter: ConnectionLimiter(maximum: 10), accessLog: nil, logger: Logger(label: "back-pressure"),
            control: try ControlChannel()
        )
        #expect(worker.prepareLoop())
        defer { worker.finishLoop() }
        func spin(_ times: Int = 1) { for _ in 0..<times { worker.loop.runOnce(maximumWaitMilliseconds: 2) } }

        // Handshake, with the client non-blocking and the loop stepped in between.
        let client = try TestTLSClient(port: try #require(address.port), context: pki.clientContext())
        _ = fcntl(client.fd, F_SETFL, fcntl(client.fd, F_GETFL) | O_NONBLOCK)
        var handshakeDone = false
        for _ in 0..<2000 where !handshakeDone {
            switch client.tls.handshakeStep() {
            case .done: handshakeDone = true
            case .wantRead, .wantWrite: spin()
            case let other: throw TestFailure("client handshake: \(other)")
            }
        }
        #expect(handshakeDone)
        spin(5)
        let upstream = try backend.accept()
        defer { close(upstream) }
        _ = fcntl(upstream, F_SETFL, fcntl(upstream, F_GETFL) | O_NONBLOCK)
        let connection = try #require(worker.connections.first)

        // The backend reads nothing: the client writes until every buffer on the way is full.
        let chunk = testBytes(16384, seed: 9)
        var written = 0
        var offset = 0
        var blockedRounds = 0
        while blockedRounds < 50 {
            switch chunk[offset...].withUnsafeBytes({ client.tls.write($0) }) {
            case .done(let count):
                written += count
                offset = (offset + count) % chunk.count
                blockedRounds = 0
            case .wantWrite, .wantRead:
                blockedRounds += 1
            case let other:
                throw TestFailure("client write: \(other)")
            }
            spin()
            #expect(written < 256 << 20, "the proxy kept reading with a full buffer")
            if written >= 256 << 20 { return }
        }
        // The proxy holds one upstream buffer (full, or partly sent when the kernel took a piece) and
        // nothing else; everything else waits in the kernel's socket buffers and windows.
        let state = connection.bufferState
        #expect(state.upstream > 0 && state.upstream <= BufferPool.bufferSize)
        #expect(state.downstream == 0)
        #expect(worker.pool.outstanding == 1)

        // The backend drains: everything written arrives, in order, and the buffers go back to the pool.
        var received: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 65536)
        var idleRounds = 0
        while received.count < written, idleRounds < 5000 {
            let count = scratch.withUnsafeMutableBytes { recv(upstream, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += scratch[0..<count]
                idleRounds = 0
            } else {
                idleRounds += 1
            }
            spin()
        }
        #expect(received.count == written)
        var expected: [UInt8] = []
        expected.reserveCapacity(written)
        while expected.count < written { expected += chunk }
        #expect(checksum(received) == checksum(Array(expected[0..<written])))
        spin(5)
        #expect(connection.bufferState.holdsMemory == 0)
        #expect(worker.pool.outstanding == 0)
        // Steady state allocates nothing per read: two buffers at most were ever allocated.
        #expect(worker.pool.allocations <= 2)
    }
}
