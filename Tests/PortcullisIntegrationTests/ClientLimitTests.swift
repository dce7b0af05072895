import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// `max_connections_per_client`: one client cannot hold more than its share, others are not affected,
    /// slots come back when connections close, a reload changes the limit, and behind a load balancer the
    /// PROXY header's client is counted, not the balancer.
    @Suite struct ClientLimit {
        let pki = IntegrationPKI.shared

        private func config(port: UInt16, backend: UInt16, limit: Int, listener: [String: String] = [:]) -> String {
            var config = ProxyConfigBuilder()
            config.global["max_connections_per_client"] = String(limit)
            config.global["handshake_timeout"] = tomlString("30s")
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                                  backends: ["127.0.0.1:\(backend)"])]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a", extra: listener)]
            return config.toml
        }

        /// True when the proxy closes `fd` within a second (a refused connection is reset at once).
        private func refused(_ fd: Int32) -> Bool { secondsUntilClosed(fd, limit: 1) != nil }

        /// True when the proxy still holds `fd` open a moment later (it waits for the handshake).
        private func held(_ fd: Int32) -> Bool { secondsUntilClosed(fd, limit: 0.5) == nil }

        @Test func aClientOverItsLimitIsResetAndOthersAreServed() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .http("hello"))
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port, limit: 2), waitForPorts: [port])
            defer { proxy.stop() }

            let first = silentConnection(port)
            let second = silentConnection(port)
            defer { close(first); close(second) }
            #expect(held(first) && held(second))
            let third = silentConnection(port)
            #expect(refused(third), "a third connection from 127.0.0.1 must be refused\n\(proxy.log)")
            close(third)
            #expect(proxy.waitForLog("max_connections_per_client (2) reached by 127.0.0.1"), "\(proxy.log)")

            // Another client is not affected, and completes a real TLS exchange.
            let other = silentConnection(port, from: "127.0.0.2")
            defer { close(other) }
            #expect(held(other), "127.0.0.2 has its own budget\n\(proxy.log)")
            let curl = try Curl.get(name: "a.example.com", port: port, caFile: pki.serverCA, extra: ["--interface", "127.0.0.3"])
            #expect(curl.status == 0 && curl.stdout.hasSuffix("hello"), "\(curl)\n\(proxy.log)")

            // A closed connection gives its slot back; a reload raises the limit for the next ones.
            close(first)
            #expect(waitUntil { let fd = silentConnection(port); defer { close(fd) }; return held(fd) }, "\(proxy.log)")
            try proxy.rewriteConfig(config(port: port, backend: backend.port, limit: 4))
            proxy.signal(SIGHUP)
            #expect(proxy.waitForLog("configuration reloaded"), "\(proxy.log)")
            let more = [silentConnection(port), silentConnection(port)]
            defer { more.forEach { close($0) } }
            #expect(more.allSatisfy(held), "limit 4 after the reload\n\(proxy.log)")
        }

        @Test func behindALoadBalancerThePROXYHeadersClientIsCounted() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(
                config: config(port: port, backend: backend.port, limit: 1,
                               listener: ["accept_proxy": "true", "proxy_sources": tomlArray(["127.0.0.1"])]),
                waitForPorts: [port])
            defer { proxy.stop() }
            func balanced(_ client: String) -> Int32 {
                let fd = silentConnection(port)
                let header = Array("PROXY TCP4 \(client) 198.51.100.10 40000 443\r\n".utf8)
                _ = header.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
                return fd
            }
            let first = balanced("203.0.113.5")
            defer { close(first) }
            #expect(held(first), "\(proxy.log)")
            let second = balanced("203.0.113.5")
            #expect(refused(second), "the same original client over its limit of 1\n\(proxy.log)")
            close(second)
            #expect(proxy.waitForLog("client=203.0.113.5:40000 via=127.0.0.1:"), "\(proxy.log)")
            #expect(proxy.logLines(containing: "close=client_limit").count == 1, "\(proxy.log)")
            // Every connection comes from the balancer's one address, yet other clients are served.
            let other = balanced("203.0.113.6")
            defer { close(other) }
            #expect(held(other), "\(proxy.log)")
        }

        private func waitUntil(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            repeat {
                if condition() { return true }
                usleep(50_000)
            } while Date() < deadline
            return false
        }
    }
}
