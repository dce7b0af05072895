import Foundation
import Testing

/// The Prometheus endpoint of the real binary, scraped with curl after real traffic.
struct Scrape {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    let text: String
    let samples: [Sample]

    /// Scrapes `http://127.0.0.1:port/metrics` with curl and parses it (labels as the proxy writes them:
    /// `name{a="x",b="y"} value`).
    init(port: UInt16) throws {
        let result = try Run.command("/usr/bin/curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(port)/metrics"], timeout: 15)
        try #require(result.status == 0, "curl failed: \(result.stderr)")
        text = result.stdout
        var samples: [Sample] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...].replacingOccurrences(of: "+Inf", with: "inf")) else {
                Issue.record("unparsable sample line: \(line)")
                continue
            }
            let series = line[..<space]
            var labels: [String: String] = [:]
            var name = String(series)
            if let brace = series.firstIndex(of: "{") {
                name = String(series[..<brace])
                for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].components(separatedBy: "\",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { continue }
                    labels[String(parts[0])] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                }
            }
            samples.append(Sample(name: name, labels: labels, value: value))
        }
        self.samples = samples
    }

    /// The value of the sample named `name` whose labels include `labels`; 0 when the series does not exist
    /// (yet); a failure when several match.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        let matches = samples.filter { sample in
            sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value }
        }
        if matches.count > 1 { Issue.record("\(matches.count) samples match \(name) \(labels)") }
        return matches.first?.value ?? 0
    }

    /// Scrapes until `done` holds (connections close asynchronously after the client is finished).
    static func waitFor(port: UInt16, timeout: TimeInterval = 10, _ done: (Scrape) -> Bool) throws -> Scrape {
        let deadline = Date().addingTimeInterval(timeout)
        var scrape = try Scrape(port: port)
        while !done(scrape), Date() < deadline {
            usleep(50_000)
            scrape = try Scrape(port: port)
        }
        return scrape
    }
}

extension Integration {
    @Suite struct Metrics {
        let pki = IntegrationPKI.shared

        private func curl(_ port: UInt16, _ path: String, method: String = "GET") throws -> (status: String, body: String) {
            let result = try Run.command("/usr/bin/curl", ["-sS", "--max-time", "10", "-X", method, "-o", "-", "-w", "\n%{http_code}",
                                                         "http://127.0.0.1:\(port)\(path)"], timeout: 15)
            let lines = result.stdout.components(separatedBy: "\n")
            return (lines.last ?? "", lines.dropLast().joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines))
        }

        /// Seconds since the epoch of a certificate's notAfter, as the openssl CLI reads it.
        private func notAfter(_ certificate: String) throws -> Double {
            let result = try Run.command("/usr/bin/openssl", ["x509", "-noout", "-enddate", "-dateopt", "iso_8601", "-in", certificate],
                                         timeout: 10)
            let text = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "notAfter=", with: "")
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
            return try #require(formatter.date(from: text), "cannot parse \(text)").timeIntervalSince1970
        }

        @Test func trafficMovesTheCountersByExactlyThat() throws {
            let port = Ports.free()
            let metricsPort = Ports.free()
            let deadPort = Ports.free()
            let backend = try TestBackend(mode: .echo)
            var config = ProxyConfigBuilder()
            config.global["metrics_listen"] = tomlString("127.0.0.1:\(metricsPort)")
            config.hosts = [
                .init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                      backends: ["127.0.0.1:\(backend.port)"]),
                .init(name: "down", names: ["b.example.com"], certificates: [(pki.cert("b"), pki.key("b"))],
                      backends: ["127.0.0.1:\(deadPort)"]),
            ]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a", "down"], defaultHost: "a",
                                      extra: ["strict_sni": "true"])]
            let proxy = try ProxyProcess(config: config.toml, waitForPorts: [port, metricsPort])
            defer { proxy.stop() }

            let health = try curl(metricsPort, "/healthz")
            #expect(health.status == "200" && health.body == "ok", "\(health)")
            let before = try Scrape(port: metricsPort)
            #expect(before.value("portcullis_connections_accepted_total") == 0)
            #expect(before.value("portcullis_workers") == 2)

            // Three good connections (one client run: the later ones offer the earlier session).
            let good = try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                     sendText: "hello", halfClose: true, connections: 3, timeout: 10))
            for outcome in good {
                #expect(outcome.ok && outcome.received_text == "hello", "\(outcome.error ?? "")\n\(proxy.log)")
            }
            let resumed = Double(good.filter { $0.reused == true }.count)
            // One refused handshake: strict SNI, unknown name.
            let refused = try PythonTLSClient.run(.init(port: port, sni: "unknown.example.org", caFile: pki.serverCA,
                                                        sendText: "x", timeout: 10))[0]
            #expect(!refused.ok)
            // One connection to a host whose backend is down.
            let down = try PythonTLSClient.run(.init(port: port, sni: "b.example.com", caFile: pki.serverCA,
                                                     sendText: "x", timeout: 10))[0]
            #expect(down.received_text != "x")

            let after = try Scrape.waitFor(port: metricsPort) {
                $0.value("portcullis_connections_accepted_total") == 5 && $0.value("portcullis_connections_active") == 0
            }
            #expect(after.value("portcullis_connections_accepted_total") == 5, "\(after.text)")
            #expect(after.value("portcullis_connections_active") == 0, "\(after.text)")
            #expect(after.value("portcullis_connections_total", ["host": "a"]) == 3)
            #expect(after.value("portcullis_connections_open", ["host": "a"]) == 0)
            #expect(after.value("portcullis_resumptions_total", ["host": "a"]) == resumed)
            #expect(after.value("portcullis_handshakes_total", ["result": "ok", "reason": "full"]) == 4 - resumed)
            #expect(after.value("portcullis_handshakes_total", ["result": "ok", "reason": "resumed"]) == resumed)
            #expect(after.value("portcullis_handshakes_total", ["result": "failed", "reason": "unrecognized_name"]) == 1)
            let failed = after.samples.filter { $0.name == "portcullis_handshakes_total" && $0.labels["result"] == "failed" }
            #expect(failed.map(\.value).reduce(0, +) == 1, "only the refused handshake failed: \(after.text)")
            #expect(after.value("portcullis_handshake_duration_seconds_count") == 4)
            #expect(after.value("portcullis_handshake_duration_seconds_bucket", ["le": "+Inf"]) == 4)
            #expect(after.value("portcullis_bytes_in_total", ["host": "a"]) == 15)
            #expect(after.value("portcullis_bytes_out_total", ["host": "a"]) == 15)
            #expect(after.value("portcullis_connections_closed_total", ["reason": "completed"]) == 3)
            #expect(after.value("portcullis_connections_closed_total", ["reason": "handshake_failed"]) == 1)
            #expect(after.value("portcullis_connections_closed_total", ["reason": "backend_unavailable"]) == 1)
            #expect(after.value("portcullis_backend_connect_failures_total", ["host": "down", "backend": "127.0.0.1:\(deadPort)"]) == 1)
            #expect(after.value("portcullis_certificate_expiry_timestamp_seconds", ["host": "a", "subject": "/CN=a.example.com"])
                    == (try notAfter(pki.cert("a"))))
            #expect(after.value("portcullis_certificate_expiry_timestamp_seconds", ["host": "down"]) == (try notAfter(pki.cert("b"))))

            let missing = try curl(metricsPort, "/other")
            #expect(missing.status == "404")
            #expect(try curl(metricsPort, "/metrics", method: "POST").status == "405")
        }

        @Test func clientVerifyFailuresAndReloadsAreCountedByReason() throws {
            let port = Ports.free()
            let metricsPort = Ports.free()
            let backend = try TestBackend(mode: .echo)
            var host = ProxyConfigBuilder.Host(name: "gate", names: ["gate.example.com"],
                                               certificates: [(pki.cert("a"), pki.key("a"))], backends: ["127.0.0.1:\(backend.port)"])
            host.extra["client_verify"] = tomlString("require")
            host.extra["client_ca_file"] = tomlString(pki.clientCA)
            host.extra["allow_ou"] = tomlArray(["gate"])
            var config = ProxyConfigBuilder()
            config.global["metrics_listen"] = tomlString("127.0.0.1:\(metricsPort)")
            config.hosts = [host]
            config.listeners = [.init(name: "gate", port: port, hosts: ["gate"], defaultHost: "gate")]
            let proxy = try ProxyProcess(config: config.toml, waitForPorts: [port, metricsPort])
            defer { proxy.stop() }

            for client in [nil, "other-ca-client", "expired", "stranger", "good"] as [String?] {
                let outcome = try PythonTLSClient.run(.init(
                    port: port, sni: "gate.example.com", caFile: pki.serverCA, certFile: client.map(pki.cert),
                    keyFile: client.map(pki.key), sendText: "secret", timeout: 10))[0]
                #expect((outcome.received_text == "secret") == (client == "good"), "\(client ?? "none"): \(outcome)")
            }
            let scrape = try Scrape.waitFor(port: metricsPort) {
                $0.value("portcullis_connections_active") == 0 && $0.value("portcullis_connections_accepted_total") == 5
            }
            func verify(_ reason: String) -> Double {
                scrape.value("portcullis_client_verify_failures_total", ["host": "gate", "reason": reason])
            }
            #expect(verify("no_certificate") == 1, "\(scrape.text)\n\(proxy.log)")
            #expect(verify("X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY") == 1, "\(scrape.text)")
            #expect(verify("X509_V_ERR_CERT_HAS_EXPIRED") == 1, "\(scrape.text)")
            #expect(verify("allow_list") == 1, "\(scrape.text)")
            let verifySamples = scrape.samples.filter { $0.name == "portcullis_client_verify_failures_total" }
            #expect(verifySamples.map(\.value).reduce(0, +) == 4)
            #expect(scrape.value("portcullis_handshakes_total", ["result": "failed", "reason": "client_certificate"]) == 3)
            #expect(scrape.value("portcullis_handshakes_total", ["result": "failed", "reason": "policy"]) == 1)
            #expect(scrape.value("portcullis_handshakes_total", ["result": "ok", "reason": "full"]) == 1)
            #expect(scrape.value("portcullis_connections_total", ["host": "gate"]) == 1)
            #expect(scrape.value("portcullis_reloads_total", ["result": "ok"]) == 0)

            proxy.signal(SIGHUP)
            #expect(proxy.waitForLog("configuration reloaded"), "\(proxy.log)")
            try proxy.rewriteConfig(config.toml.replacingOccurrences(of: pki.cert("a"), with: "/nonexistent/a.crt"))
            proxy.signal(SIGHUP)
            #expect(proxy.waitForLog("reload failed"), "\(proxy.log)")
            let reloaded = try Scrape.waitFor(port: metricsPort) { $0.value("portcullis_reloads_total", ["result": "failed"]) == 1 }
            #expect(reloaded.value("portcullis_reloads_total", ["result": "ok"]) == 1)
            #expect(reloaded.value("portcullis_reloads_total", ["result": "failed"]) == 1)
            // The failed reload left the served certificates as they were.
            #expect(reloaded.value("portcullis_certificate_expiry_timestamp_seconds", ["host": "gate"]) == (try notAfter(pki.cert("a"))))
            #expect(try curl(metricsPort, "/healthz").status == "200")
        }

        @Test func healthzAnswers503WhileDraining() throws {
            let port = Ports.free()
            let metricsPort = Ports.free()
            let backend = try TestBackend(mode: .echo)
            var config = ProxyConfigBuilder()
            config.global["metrics_listen"] = tomlString("127.0.0.1:\(metricsPort)")
            config.global["drain_timeout"] = tomlString("20s")
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                                  backends: ["127.0.0.1:\(backend.port)"])]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a")]
            let proxy = try ProxyProcess(config: config.toml, waitForPorts: [port, metricsPort])
            defer { proxy.stop() }
            #expect(try curl(metricsPort, "/healthz").status == "200")
            // `portcullis health` finds the endpoint through the configuration (what a HEALTHCHECK runs).
            let healthy = try health(["--config", proxy.configPath])
            #expect(healthy.status == 0 && healthy.stdout == "healthy: 200 ok\n", "\(healthy)")

            // An idle client keeps the drain going: s_client waits on a stdin nobody writes to until we close it.
            let client = Process()
            client.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            client.arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "a.example.com", "-quiet", "-no_ign_eof"]
            let input = Pipe()
            client.standardInput = input
            client.standardOutput = FileHandle.nullDevice
            client.standardError = FileHandle.nullDevice
            try client.run()
            defer { if client.isRunning { client.terminate() } }
            for _ in 0..<200 where backend.acceptedCount < 1 { usleep(50_000) }
            try #require(backend.acceptedCount == 1, "the idle client should be connected through\n\(proxy.log)")

            proxy.signal(SIGTERM)
            #expect(proxy.waitForLog("draining 1 open connection"), "\(proxy.log)")
            let draining = try curl(metricsPort, "/healthz")
            #expect(draining.status == "503" && draining.body == "draining: not accepting new connections", "\(draining)")
            let unhealthy = try health(["--address", "127.0.0.1:\(metricsPort)"])
            #expect(unhealthy.status == 1 && unhealthy.stdout == "unhealthy: 503 draining: not accepting new connections\n", "\(unhealthy)")
            #expect(proxy.isRunning, "the open connection should hold the drain")

            // The client leaves; the drain ends with it, long before the 20 s deadline.
            try input.fileHandleForWriting.close()
            #expect(proxy.waitForExit(timeout: 10) == 0, "\(proxy.log)")
            #expect(!proxy.log.contains("drain deadline passed"), "\(proxy.log)")
            let gone = try health(["--address", "127.0.0.1:\(metricsPort)", "--timeout", "2"])
            #expect(gone.status == 1 && gone.stdout == "unhealthy: cannot connect to 127.0.0.1:\(metricsPort): Connection refused\n", "\(gone)")
        }

        private func health(_ arguments: [String]) throws -> Run.Result {
            try Run.command(BinaryLocator.portcullis.path, ["health"] + arguments, timeout: 15)
        }

        @Test func healthWithoutAMetricsEndpointSaysWhy() throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-health-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            var config = ProxyConfigBuilder()
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                                  backends: ["127.0.0.1:9"])]
            config.listeners = [.init(name: "tls", port: Ports.free(), hosts: ["a"], defaultHost: "a")]
            let path = directory.appendingPathComponent("portcullis.toml").path
            try config.toml.write(toFile: path, atomically: true, encoding: .utf8)
            let result = try health(["--config", path])
            #expect(result.status == 1 && result.stderr.contains("sets no metrics_listen"), "\(result)")
            let both = try health(["--config", path, "--address", "127.0.0.1:1"])
            #expect(both.status != 0 && both.stderr.contains("pass either --config FILE or --address HOST:PORT"), "\(both)")
        }

        @Test func aMetricsAddressThatCannotBeBoundStopsTheStart() throws {
            let port = Ports.free()
            let blocker = try TestBackend(mode: .echo)
            var config = ProxyConfigBuilder()
            config.global["metrics_listen"] = tomlString("127.0.0.1:\(blocker.port)")
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                                  backends: ["127.0.0.1:9"])]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a")]
            do {
                let proxy = try ProxyProcess(config: config.toml, waitForPorts: [port])
                let status = proxy.waitForExit(timeout: 10)
                #expect(status == 1, "\(proxy.log)")
                #expect(proxy.log.contains("metrics"), "\(proxy.log)")
            } catch IntegrationError.setup(let message) {
                #expect(message.contains("status 1") && message.contains("metrics_listen"), "\(message)")
            }
        }
    }
}
