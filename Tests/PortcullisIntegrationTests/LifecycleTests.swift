import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// Timeouts, reload (SIGHUP) and drain (SIGTERM) on the real process.
    @Suite struct Lifecycle {
        let pki = IntegrationPKI.shared

        private func config(port: UInt16, backend: UInt16, certificate: String = "a", global: [String: String] = [:]) -> String {
            var config = ProxyConfigBuilder()
            for (key, value) in global { config.global[key] = value }
            config.hosts = [.init(name: "a", names: ["a.example.com"],
                                  certificates: [(pki.cert(certificate), pki.key(certificate))],
                                  backends: ["127.0.0.1:\(backend)"])]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a")]
            return config.toml
        }

        @Test func handshakeTimeoutFreesTheConnectionAndSlowClientsDelayNoOne() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port,
                                                        global: ["handshake_timeout": tomlString("1s")]),
                                         waitForPorts: [port])
            defer { proxy.stop() }
            let slow = (0..<20).map { _ in silentConnection(port) }
            defer { slow.forEach { close($0) } }
            // While 20 clients sit silent, a real client is served at once.
            let start = Date()
            let outcome = try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                        sendText: "not delayed", halfClose: true))[0]
            #expect(outcome.ok && outcome.received_text == "not delayed", "\(outcome.error ?? "")")
            #expect(Date().timeIntervalSince(start) < 5)
            // The silent ones are closed by the handshake timeout, not left open.
            for fd in slow {
                let closedAfter = secondsUntilClosed(fd, limit: 8)
                #expect(closedAfter != nil, "a silent client was not closed by handshake_timeout")
            }
            #expect(proxy.waitForLog("timeout", timeout: 5), "\(proxy.log)")
        }

        @Test func pastMaxConnectionsNewClientsAreRefusedWithoutAHandshake() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port,
                                                        global: ["max_connections": "4", "workers": "1"]),
                                         waitForPorts: [port])
            defer { proxy.stop() }
            var held = (0..<4).map { _ in silentConnection(port) }
            defer { held.filter { $0 >= 0 }.forEach { close($0) } }
            usleep(300_000)
            let refused = try SClient.connect(port: port, servername: "a.example.com", caFile: pki.serverCA, timeout: 10)
            #expect(!refused.handshakeSucceeded, "\(refused.output)")
            #expect(refused.peerSubject == nil, "no certificate may be sent past max_connections")
            // Once a slot frees up, clients are served again.
            close(held[0])
            held[0] = -1
            var served = false
            for _ in 0..<40 where !served {
                served = (try? PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                         sendText: "ok", halfClose: true, timeout: 5))[0].received_text) == "ok"
                if !served { usleep(100_000) }
            }
            #expect(served, "\(proxy.log)")
        }

        @Test func reloadUnderTrafficDropsNothingAndABadReloadKeepsTheOldConfig() throws {
            let port = Ports.free()
            let size = 4 * 1024 * 1024
            let backend = try TestBackend(mode: .sendAndReceive(Data(repeating: 0x5A, count: size)))
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port), waitForPorts: [port])
            defer { proxy.stop() }

            // Traffic in flight during the reload.
            let group = DispatchGroup()
            let results = LockedBox<[PythonTLSClient.Outcome]>([])
            for _ in 0..<3 {
                group.enter()
                DispatchQueue.global().async {
                    defer { group.leave() }
                    if let outcome = try? PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                                   sendBytes: size, halfClose: true, timeout: 60))[0] {
                        results.mutate { $0.append(outcome) }
                    }
                }
            }
            for _ in 0..<200 where backend.acceptedCount < 3 { usleep(50_000) }
            #expect(backend.acceptedCount == 3, "the three transfers should be in flight before the reload")
            // New config: the same host now presents the wildcard certificate.
            try proxy.rewriteConfig(config(port: port, backend: backend.port, certificate: "wild"))
            proxy.signal(SIGHUP)
            #expect(proxy.waitForLog("reload", timeout: 10), "\(proxy.log)")
            #expect(group.wait(timeout: .now() + 90) == .success)
            let outcomes = results.value
            #expect(outcomes.count == 3)
            for outcome in outcomes {
                #expect(outcome.ok && outcome.received == size && outcome.close == "close_notify",
                        "a connection open across the reload was hurt: \(outcome)")
            }
            // New connections see the new config.
            var after: SClient.Outcome?
            for _ in 0..<20 {
                after = try SClient.connect(port: port, servername: "a.example.com", caFile: pki.serverCA)
                if after?.peerSubject?.contains("wild") == true { break }
                usleep(100_000)
            }
            #expect(after?.peerSubject?.contains("*.wild.example.com") == true, "\(after?.output ?? "")")

            // A broken config is refused and the old one keeps serving.
            try proxy.rewriteConfig("this is [not toml\n")
            proxy.signal(SIGHUP)
            #expect(proxy.waitForLog("portcullis.toml:1:", timeout: 10), "the failed reload is logged with where it failed\n\(proxy.log)")
            #expect(proxy.isRunning)
            let still = try SClient.connect(port: port, servername: "a.example.com", caFile: pki.serverCA)
            #expect(still.peerSubject?.contains("*.wild.example.com") == true, "\(still.output)")
        }

        @Test func sigtermDrainsOpenConnectionsThenExitsZero() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port,
                                                        global: ["drain_timeout": tomlString("20s")]),
                                         waitForPorts: [port])
            defer { proxy.stop() }
            // A client in the middle of a conversation: it finishes after the SIGTERM.
            let done = LockedBox<PythonTLSClient.Outcome?>(nil)
            let group = DispatchGroup()
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                done.mutate { $0 = try? PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                                  sendBytes: 8 * 1024 * 1024, halfClose: true, timeout: 60))[0] }
            }
            for _ in 0..<200 where backend.acceptedCount < 1 { usleep(50_000) }
            #expect(backend.acceptedCount == 1, "the transfer should be in flight before SIGTERM")
            proxy.signal(SIGTERM)
            // The listener closes at once.
            var closed = false
            for _ in 0..<50 where !closed {
                closed = !Ports.isListening(port)
                if !closed { usleep(100_000) }
            }
            #expect(closed, "the listener should close as soon as draining starts")
            #expect(group.wait(timeout: .now() + 60) == .success)
            let outcome = done.value
            #expect(outcome?.ok == true && outcome?.received == 8 * 1024 * 1024, "the open connection was cut: \(String(describing: outcome))")
            #expect(proxy.waitForExit(timeout: 25) == 0, "\(proxy.log)")
        }
    }
}

/// A value shared between test threads.
final class LockedBox<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func mutate(_ body: (inout Value) -> Void) { lock.lock(); body(&stored); lock.unlock() }
}
