import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// Passive and active backend health on the real binary: a dead backend costs one failed connect and is
    /// then skipped until backend_fail_timeout; active checks take an address out before any client pays
    /// for it, bring it back when it listens again, and stop when a reload removes them.
    @Suite struct BackendHealth {
        let pki = IntegrationPKI.shared

        private func host(backends: [String], extra: [String: String]) -> ProxyConfigBuilder.Host {
            .init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))], backends: backends, extra: extra)
        }

        private func clients(_ port: UInt16, _ count: Int, text: String) throws -> [PythonTLSClient.Outcome] {
            try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA, sendText: text, halfClose: true,
                                          connections: count, timeout: 15))
        }

        /// The sample `name` for host a and `backend`, or nil when the series does not exist.
        private func sample(_ scrape: Scrape, _ name: String, backend: String, _ labels: [String: String] = [:]) -> Double? {
            scrape.samples.first { sample in
                sample.name == name && sample.labels["host"] == "a" && sample.labels["backend"] == backend
                    && labels.allSatisfy { sample.labels[$0.key] == $0.value }
            }?.value
        }

        @Test func aDeadBackendCostsOneFailedConnectThenIsSkippedUntilFailTimeout() throws {
            let port = Ports.free()
            let metricsPort = Ports.free()
            let dead = "127.0.0.1:\(Ports.free())"  // nothing listens there
            let live = try TestBackend(mode: .echo)
            defer { live.stop() }
            var config = ProxyConfigBuilder()
            // One worker: passive health is per worker, and this test counts the failed connects exactly.
            config.global["workers"] = "1"
            config.global["metrics_listen"] = tomlString("127.0.0.1:\(metricsPort)")
            config.hosts = [host(backends: [dead, "127.0.0.1:\(live.port)"], extra: ["backend_fail_timeout": tomlString("6s")])]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a")]
            let proxy = try ProxyProcess(config: config.toml, waitForPorts: [port, metricsPort])
            defer { proxy.stop() }
            func failures() throws -> Double {
                sample(try Scrape(port: metricsPort), "portcullis_backend_connect_failures_total", backend: dead) ?? 0
            }

            // Round-robin starts at the dead address: the first client fails over to the live one and marks it
            // down; the next ones go straight to the live one.
            let start = Date()
            for outcome in try clients(port, 4, text: "hello") {
                #expect(outcome.ok && outcome.received_text == "hello", "\(outcome.error ?? "")\n\(proxy.log)")
            }
            let elapsed = Date().timeIntervalSince(start)
            try #require(elapsed < 6, "the clients took \(elapsed) s, longer than backend_fail_timeout")
            #expect(try failures() == 1, "only the first client paid for the dead backend\n\(proxy.log)")
            #expect(live.acceptedCount == 4)
            #expect(proxy.waitForLog("backend \(dead) of host a is down for 6s after 1 failed connect: connect", timeout: 5), "\(proxy.log)")
            #expect(proxy.waitForLog("close=", count: 4, timeout: 5))
            #expect(proxy.logLines(containing: "backend=127.0.0.1:\(live.port) ").count == 4, "\(proxy.log)")
            #expect(proxy.logLines(containing: "backend=\(dead) ").isEmpty, "\(proxy.log)")

            // After fail_timeout real traffic tries the dead address again (and fails over again).
            var retried = false
            let deadline = Date().addingTimeInterval(20)
            while !retried, Date() < deadline {
                let outcome = try clients(port, 1, text: "again")[0]
                #expect(outcome.ok && outcome.received_text == "again", "\(outcome.error ?? "")")
                retried = try failures() == 2
                if !retried { usleep(200_000) }
            }
            #expect(retried, "the dead backend was never retried\n\(proxy.log)")
            #expect(Date().timeIntervalSince(start) >= 6, "retried before backend_fail_timeout")
        }

        /// `health_check_http`: a backend that accepts connections but answers 503 is down; one answering 200
        /// is up and sees exactly the documented request.
        @Test func httpChecksJudgeTheStatusNotTheConnect() throws {
            let port = Ports.free()
            let metricsPort = Ports.free()
            let healthy = try TestBackend(mode: .http("ok"))
            let failing = try TestBackend(mode: .httpStatus(503))
            defer { healthy.stop(); failing.stop() }
            let good = "127.0.0.1:\(healthy.port)"
            let bad = "127.0.0.1:\(failing.port)"
            var builder = ProxyConfigBuilder()
            builder.global["metrics_listen"] = tomlString("127.0.0.1:\(metricsPort)")
            builder.hosts = [host(backends: [good, bad], extra: [
                "health_check_interval": tomlString("200ms"), "health_check_fall": "1", "health_check_http": tomlString("GET /healthz"),
            ])]
            builder.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a")]
            let proxy = try ProxyProcess(config: builder.toml, waitForPorts: [port, metricsPort])
            defer { proxy.stop() }

            let scrape = try Scrape.waitFor(port: metricsPort) {
                sample($0, "portcullis_backend_up", backend: bad) == 0
                    && (sample($0, "portcullis_backend_checks_total", backend: good, ["result": "ok"]) ?? 0) >= 2
            }
            #expect(sample(scrape, "portcullis_backend_up", backend: bad) == 0, "\(scrape.text)")
            #expect(sample(scrape, "portcullis_backend_up", backend: good) == 1, "\(scrape.text)")
            #expect(proxy.waitForLog("backend \(bad) of host a is down: 1 failed check: HTTP status 503"), "\(proxy.log)")
            let request = String(decoding: healthy.waitForConnections(1).first ?? Data(), as: UTF8.self)
            #expect(request == "GET /healthz HTTP/1.0\r\nHost: \(good)\r\nUser-Agent: portcullis-health-check\r\nConnection: close\r\n\r\n",
                    "\(request)")
        }

        @Test func activeChecksTakeABackendOutAndBringItBackAndAReloadStopsThem() throws {
            let port = Ports.free()
            let metricsPort = Ports.free()
            let checkedPort = Ports.free()
            let checked = "127.0.0.1:\(checkedPort)"
            let other = try TestBackend(mode: .echo)
            defer { other.stop() }
            func config(checks: Bool) -> String {
                var builder = ProxyConfigBuilder()
                builder.global["metrics_listen"] = tomlString("127.0.0.1:\(metricsPort)")
                let extra = checks ? ["health_check_interval": tomlString("200ms"), "health_check_rise": "2", "health_check_fall": "2"] : [:]
                builder.hosts = [host(backends: [checked, "127.0.0.1:\(other.port)"], extra: extra)]
                builder.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a")]
                return builder.toml
            }
            let proxy = try ProxyProcess(config: config(checks: true), waitForPorts: [port, metricsPort])
            defer { proxy.stop() }
            #expect(proxy.waitForLog("health checks: a every 200ms: \(checked), 127.0.0.1:\(other.port)"), "\(proxy.log)")

            // Nothing listens: the first check takes it down.
            var scrape = try Scrape.waitFor(port: metricsPort) { sample($0, "portcullis_backend_up", backend: checked) == 0 }
            #expect(sample(scrape, "portcullis_backend_up", backend: checked) == 0, "\(scrape.text)")
            #expect(sample(scrape, "portcullis_backend_up", backend: "127.0.0.1:\(other.port)") == 1, "\(scrape.text)")
            #expect(proxy.waitForLog("backend \(checked) of host a is down: 1 failed check: connection refused"), "\(proxy.log)")
            // Clients go to the other backend without a single failed connect to the down one.
            for outcome in try clients(port, 4, text: "while down") {
                #expect(outcome.ok && outcome.received_text == "while down", "\(outcome.error ?? "")\n\(proxy.log)")
            }
            scrape = try Scrape(port: metricsPort)
            #expect((sample(scrape, "portcullis_backend_connect_failures_total", backend: checked) ?? 0) == 0, "\(scrape.text)")
            #expect((sample(scrape, "portcullis_backend_checks_total", backend: checked, ["result": "failed"]) ?? 0) >= 1, "\(scrape.text)")

            // It listens again: up after health_check_rise (2) checks, and clients reach it.
            let revived = try TestBackend(mode: .echo, port: checkedPort)
            defer { revived.stop() }
            scrape = try Scrape.waitFor(port: metricsPort) { sample($0, "portcullis_backend_up", backend: checked) == 1 }
            #expect(sample(scrape, "portcullis_backend_up", backend: checked) == 1, "\(scrape.text)\n\(proxy.log)")
            #expect((sample(scrape, "portcullis_backend_checks_total", backend: checked, ["result": "ok"]) ?? 0) >= 2, "\(scrape.text)")
            #expect(proxy.waitForLog("backend \(checked) of host a is up again: 2 successful checks"), "\(proxy.log)")
            for outcome in try clients(port, 4, text: "back") {
                #expect(outcome.ok && outcome.received_text == "back", "\(outcome.error ?? "")\n\(proxy.log)")
            }
            #expect(proxy.waitForLog("backend=\(checked) ", timeout: 5), "two workers, four clients: one reaches it\n\(proxy.log)")

            // A reload without checks stops them: the series go, and the backend sees no more check connections.
            try proxy.rewriteConfig(config(checks: false))
            proxy.signal(SIGHUP)
            #expect(proxy.waitForLog("health checks stopped", timeout: 15), "\(proxy.log)")
            scrape = try Scrape.waitFor(port: metricsPort) { sample($0, "portcullis_backend_up", backend: checked) == nil }
            #expect(!scrape.text.contains("portcullis_backend_up{"), "\(scrape.text)")
            let accepted = revived.acceptedCount
            usleep(1_000_000)  // five check intervals
            #expect(revived.acceptedCount == accepted, "checks still running after the reload")
        }
    }
}
