import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// The open-file limit: raised at startup to fit max_connections, and running out of descriptors
    /// (EMFILE) refuses new clients without hurting the open ones.
    @Suite struct DescriptorLimit {
        let pki = IntegrationPKI.shared

        private func config(port: UInt16, backend: UInt16, global: [String: String] = [:]) -> String {
            var config = ProxyConfigBuilder()
            for (key, value) in global { config.global[key] = value }
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                                  backends: ["127.0.0.1:\(backend)"])]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a")]
            return config.toml
        }

        /// (soft, hard) "Max open files" of a process.
        private func openFileLimits(_ pid: Int32) throws -> (soft: String, hard: String) {
            let line = try #require(readProcFileToEnd("/proc/\(pid)/limits").split(separator: "\n").first { $0.hasPrefix("Max open files") })
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return (String(fields[3]), String(fields[4]))
        }

        private func echoes(_ port: UInt16, _ text: String) -> Bool {
            (try? PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA, sendText: text,
                                            halfClose: true, timeout: 5))[0].received_text) == text
        }

        @Test func theSoftLimitIsRaisedToFitMaxConnections() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            // Keep our own hard limit (raising it needs CAP_SYS_RESOURCE); start with a soft limit of 256.
            var ours = rlimit()
            getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &ours)
            // 2 × 1000 connections + 2 workers × (3 + 1 address) + 64 = 2072.
            try #require(ours.rlim_max >= 4072, "the test needs a hard open-file limit of at least 4072")
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port, global: ["max_connections": "1000"]),
                                         waitForPorts: [port], launcher: ["/usr/bin/prlimit", "--nofile=256:\(ours.rlim_max)", "--"])
            defer { proxy.stop() }
            let limits = try openFileLimits(proxy.pid)
            #expect(limits.soft == "2072", "\(limits)\n\(proxy.log)")
            #expect(proxy.waitForLog("raised the open-file limit from 256 to 2072 for max_connections 1000"), "\(proxy.log)")
            #expect(echoes(port, "served"))

            // A reload that raises max_connections raises the limit with it.
            try proxy.rewriteConfig(config(port: port, backend: backend.port, global: ["max_connections": "2000"]))
            proxy.signal(SIGHUP)
            #expect(proxy.waitForLog("raised the open-file limit from 2072 to 4072 for max_connections 2000"), "\(proxy.log)")
            #expect(try openFileLimits(proxy.pid).soft == "4072")
            #expect(echoes(port, "still served"))
        }

        @Test func aHardLimitBelowMaxConnectionsIsRaisedToAndWarnedAbout() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port, global: ["max_connections": "5000"]),
                                         waitForPorts: [port], launcher: ["/usr/bin/prlimit", "--nofile=256:2048", "--"])
            defer { proxy.stop() }
            let limits = try openFileLimits(proxy.pid)
            #expect(limits.soft == "2048" && limits.hard == "2048", "\(limits)")
            #expect(proxy.waitForLog("max_connections 5000 needs about 10072 open files, but the hard limit is 2048: about 992 connections fit"),
                    "\(proxy.log)")
        }

        @Test func outOfDescriptorsRefusesNewClientsAndServesAgainOnceTheyFree() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port,
                                                        global: ["handshake_timeout": tomlString("60s")]),
                                         waitForPorts: [port])
            defer { proxy.stop() }
            // One connection that is through to the backend before descriptors run out; it must keep working.
            let before = proxy.logLines(containing: "close=").count
            #expect(echoes(port, "warm-up"))

            // Leave room for a few descriptors only, then fill them with clients that never speak TLS.
            let inUse = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(proxy.pid)/fd").count
            let limit = inUse + 8
            let prlimit = try Run.command("/usr/bin/prlimit", ["--pid", "\(proxy.pid)", "--nofile=\(limit):\(limit)"], timeout: 10)
            try #require(prlimit.status == 0, "\(prlimit.stderr)")
            var held: [Int32] = []
            defer { held.forEach { close($0) } }
            var refusedAt: Int?
            for attempt in 0..<40 where refusedAt == nil {
                let fd = silentConnection(port)
                held.append(fd)
                // An accepted client waits for its handshake; a refused one is reset at once.
                if secondsUntilClosed(fd, limit: 0.3) != nil { refusedAt = attempt }
            }
            let refused = try #require(refusedAt, "no client was refused after 40 connections with \(limit) descriptors\n\(proxy.log)")
            #expect(refused >= 2, "the clients that fit under the limit should have been accepted (refused at \(refused))")
            #expect(proxy.waitForLog("out of file descriptors"), "\(proxy.log)")
            // A TLS client is refused fast too, not left hanging in the backlog.
            let start = Date()
            #expect(!echoes(port, "refused"))
            #expect(Date().timeIntervalSince(start) < 4)
            #expect(proxy.isRunning)

            // Descriptors free up: clients are served again, and nothing was logged as a crash.
            held.forEach { close($0) }
            held = []
            var served = false
            for _ in 0..<50 where !served {
                served = echoes(port, "again")
                if !served { usleep(100_000) }
            }
            #expect(served, "\(proxy.log)")
            #expect(proxy.logLines(containing: "close=").count > before)
            #expect(proxy.isRunning)
        }
    }
}
