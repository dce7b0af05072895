import Foundation
import Testing
@testable import PortcullisCore

/// Backend selection (balance, passive and active health) with an injected clock, the health state's
/// rise/fall, the configuration keys and the metrics series. No sockets, no sleeps.
@Suite struct BackendHealthTests {
    static let second: UInt64 = 1_000_000_000

    func slots(_ count: Int) -> [BackendSlot] {
        (0..<count).map { index in
            let address = SocketAddress(numericHost: "127.0.0.1", port: UInt16(8001 + index))!
            return BackendSlot(address: address, label: "127.0.0.1:\(8001 + index)")
        }
    }

    func selector(_ count: Int, balance: BalanceMethod = .roundRobin, maxFails: Int = 1, failTimeout: Duration = .seconds(10),
                  start: Int = 0) -> BackendSelector {
        BackendSelector(hostName: "www", slots: slots(count),
                        configuration: BackendHealthConfiguration(balance: balance, maxFails: maxFails, failTimeout: failTimeout),
                        start: start)
    }

    /// The first pick of `connections` new connections (each released at once unless `hold`).
    func firstPicks(_ selector: BackendSelector, connections: Int, now: UInt64 = 100, hold: Bool = false) -> [Int] {
        (0..<connections).map { _ in
            var attempts = BackendAttempts()
            let index = selector.pick(&attempts, now: now)!
            if hold { selector.acquire(index) }
            return index
        }
    }

    /// Every address one connection would try, in order.
    func failoverOrder(_ selector: BackendSelector, now: UInt64 = 100) -> [Int] {
        var attempts = BackendAttempts()
        var order: [Int] = []
        while let index = selector.pick(&attempts, now: now) { order.append(index) }
        return order
    }

    // MARK: Balance

    @Test func roundRobinRotatesAndFailsOverToTheNext() {
        let rr = selector(3)
        #expect(firstPicks(rr, connections: 5) == [0, 1, 2, 0, 1])
        #expect(failoverOrder(rr) == [2, 0, 1], "a connection tries each address once, from its round-robin start")
        #expect(firstPicks(selector(3, start: 1), connections: 3) == [1, 2, 0], "workers start at their own offset")
    }

    @Test func weightedRoundRobinIsSmoothAndSkipsDownAddresses() {
        let weighted = BackendSelector(hostName: "www", slots: slots(3), configuration: BackendHealthConfiguration(), weights: [3, 1, 1])
        // nginx's smooth weighted round-robin: 3:1:1 spreads the heavy address out instead of bunching it.
        #expect(firstPicks(weighted, connections: 10) == [0, 1, 0, 2, 0, 0, 1, 0, 2, 0])
        _ = weighted.connectFailed(0, now: 100)
        #expect(Set(firstPicks(weighted, connections: 4, now: 200)) == [1, 2], "a down address gets none of its share")
        #expect(failoverOrder(weighted, now: 200).count == 3, "and failover still tries every address once")
    }

    @Test func weightedLeastConnectionsComparesConnectionsPerUnitOfWeight() {
        let least = BackendSelector(hostName: "www", slots: slots(2),
                                    configuration: BackendHealthConfiguration(balance: .leastConnections), weights: [2, 1])
        // Held connections: address 0 (weight 2) takes two for each one of address 1.
        let picks = firstPicks(least, connections: 6, hold: true)
        #expect(picks.filter { $0 == 0 }.count == 4 && picks.filter { $0 == 1 }.count == 2, "\(picks)")
    }

    @Test func firstAlwaysPrefersTheFirstUpAddress() {
        let first = selector(3, balance: .first)
        #expect(firstPicks(first, connections: 4) == [0, 0, 0, 0])
        #expect(failoverOrder(first) == [0, 1, 2])
        _ = first.connectFailed(0, now: 100)
        #expect(firstPicks(first, connections: 3, now: 200) == [1, 1, 1], "the backup while the primary is down")
        #expect(firstPicks(first, connections: 1, now: 100 + 10 * Self.second) == [0], "the primary again after fail_timeout")
    }

    @Test func leastConnectionsCountsThisWorkersOpenConnections() {
        let least = selector(3, balance: .leastConnections)
        #expect(firstPicks(least, connections: 3, hold: true) == [0, 1, 2], "ties go round-robin")
        least.acquire(0)
        least.acquire(2)
        // Open now: 0 -> 2, 1 -> 1, 2 -> 2.
        #expect(firstPicks(least, connections: 1, hold: true) == [1])
        // 0 -> 2, 1 -> 2, 2 -> 2: a tie again, continuing after the last choice.
        #expect(firstPicks(least, connections: 1, hold: true) == [2])
        least.release(least.slots[0])
        least.release(least.slots[0])
        #expect(firstPicks(least, connections: 1) == [0], "released connections count no more")
        #expect(least.slots.map(\.activeConnections) == [0, 2, 3])
        least.release(least.slots[0])
        #expect(least.slots[0].activeConnections == 0, "never below zero")
    }

    // MARK: Passive health

    @Test func aFailedAddressIsSkippedForFailTimeoutThenRetriedByRealTraffic() {
        let rr = selector(2, failTimeout: .seconds(10))
        let t0 = 5 * Self.second
        #expect(rr.connectFailed(0, now: t0) == .down)
        #expect(!rr.isUp(rr.slots[0], now: t0 + 1))
        #expect(firstPicks(rr, connections: 4, now: t0 + 1) == [1, 1, 1, 1], "only the live address")
        #expect(failoverOrder(rr, now: t0 + 1) == [1, 0], "the down address is the last resort")
        let expired = t0 + 10 * Self.second
        #expect(rr.isUp(rr.slots[0], now: expired))
        #expect(firstPicks(rr, connections: 2, now: expired).contains(0), "tried again after fail_timeout")
        // One more failure after the timeout takes it down again at once; one success clears it.
        #expect(rr.connectFailed(0, now: expired) == .stillDown)
        #expect(!rr.isUp(rr.slots[0], now: expired + 1))
        #expect(rr.connectSucceeded(0) == .up)
        #expect(rr.isUp(rr.slots[0], now: expired + 1))
        #expect(rr.connectSucceeded(0) == BackendTransition.none)
    }

    @Test func maxFailsCountsConsecutiveFailuresOnly() {
        let rr = selector(2, maxFails: 3)
        #expect(rr.connectFailed(0, now: 100) == BackendTransition.none)
        #expect(rr.connectFailed(0, now: 100) == BackendTransition.none)
        #expect(rr.connectSucceeded(0) == BackendTransition.none)
        #expect(rr.connectFailed(0, now: 100) == BackendTransition.none)
        #expect(rr.connectFailed(0, now: 100) == BackendTransition.none)
        #expect(rr.isUp(rr.slots[0], now: 101))
        #expect(rr.connectFailed(0, now: 100) == .down)
        #expect(!rr.isUp(rr.slots[0], now: 101))
    }

    @Test func maxFailsZeroNeverSkips() {
        let rr = selector(2, maxFails: 0)
        for _ in 0..<10 { #expect(rr.connectFailed(0, now: 100) == BackendTransition.none) }
        #expect(firstPicks(rr, connections: 2, now: 101) == [0, 1])
    }

    @Test func whenEveryAddressIsDownAllAreTriedInConfigurationOrder() {
        for balance in BalanceMethod.allCases {
            let all = selector(3, balance: balance, start: 2)
            for index in 0..<3 { _ = all.connectFailed(index, now: 100) }
            #expect(failoverOrder(all, now: 101) == [0, 1, 2], "\(balance)")
        }
    }

    @Test func skippingADownAddressDoesNotDoubleTheNextOnesShare() {
        let rr = selector(3)
        _ = rr.connectFailed(0, now: 100)
        #expect(firstPicks(rr, connections: 4, now: 101) == [1, 2, 1, 2])
    }

    // MARK: Active health

    @Test func activeVerdictsAreSkippedLikePassiveOnes() {
        let least = selector(3, balance: .leastConnections)
        let states = least.slots.map { BackendHealthState(host: "www", label: $0.label, address: $0.address) }
        for (slot, state) in zip(least.slots, states) { slot.health = state }
        #expect(states[1].record(success: false, rise: 2, fall: 3) == .down(failures: 1), "the first check alone decides")
        #expect(firstPicks(least, connections: 4) == [0, 2, 0, 2])
        for state in states { _ = state.record(success: false, rise: 2, fall: 3) }
        #expect(failoverOrder(least) == [0, 1, 2], "all down: all of them, in order")
    }

    @Test func riseAndFall() {
        let address = SocketAddress(numericHost: "127.0.0.1", port: 9)!
        let state = BackendHealthState(host: "www", label: "127.0.0.1:9", address: address)
        #expect(state.isUp, "up until the first check")
        #expect(state.record(success: true, rise: 2, fall: 3) == .none)
        #expect(state.record(success: false, rise: 2, fall: 3) == .none)
        #expect(state.record(success: false, timedOut: true, rise: 2, fall: 3) == .none)
        #expect(state.isUp)
        #expect(state.record(success: false, rise: 2, fall: 3) == .down(failures: 3))
        #expect(!state.isUp)
        #expect(state.record(success: false, rise: 2, fall: 3) == .none)
        #expect(state.record(success: true, rise: 2, fall: 3) == .none)
        #expect(!state.isUp)
        #expect(state.record(success: true, rise: 2, fall: 3) == .up(successes: 2))
        #expect(state.isUp)
        #expect(state.checksSucceeded.value == 3 && state.checksFailed.value == 3 && state.checksTimedOut.value == 1)
    }

    @Test func aReloadKeepsTheVerdictsOfAddressesStillChecked() {
        let check = BackendHealthConfiguration(check: HealthCheckConfiguration(interval: .milliseconds(200)))
        let backends: [BackendAddress] = [.tcp(host: "127.0.0.1", port: 8001), .tcp(host: "127.0.0.1", port: 8002)]
        let first = BackendHealthBoard(hosts: [("www", backends, check), ("plain", backends, BackendHealthConfiguration())],
                                       connectTimeout: .seconds(5))
        #expect(first.hosts.map(\.name) == ["www"], "only hosts with health_check_interval are checked")
        #expect(first.hosts[0].timeout == 2 * Self.second, "timeout: min(connect_timeout, 2s)")
        #expect(first.hosts[0].interval == 200_000_000 && first.hosts[0].rise == 2 && first.hosts[0].fall == 3)
        let down = first.targets(forHost: "www")[0]
        _ = down.record(success: false, rise: 2, fall: 3)
        let second = BackendHealthBoard(hosts: [("www", [backends[0]], check)], connectTimeout: .seconds(1), previous: first)
        #expect(second.targets(forHost: "www").count == 1)
        #expect(second.targets(forHost: "www")[0] === down && !down.isUp)
        #expect(second.hosts[0].timeout == Self.second)
        #expect(second.targets(forHost: "plain").isEmpty)
    }

    // MARK: Configuration

    @Test func keysAreReadWithTheirDefaults() throws {
        let defaults = try parseConfiguration(minimalHost).hosts[0].backendHealth
        #expect(defaults == BackendHealthConfiguration(balance: .roundRobin, maxFails: 1, failTimeout: .seconds(10), check: nil))
        let configured = try parseConfiguration(minimalHost + """
            balance = "least_connections"
            backend_max_fails = 0
            backend_fail_timeout = "30s"
            health_check_interval = "200ms"
            health_check_timeout = "1s"
            health_check_rise = 1
            health_check_fall = 2
            health_check_http = "HEAD /status?full=1"
            """).hosts[0].backendHealth
        #expect(configured == BackendHealthConfiguration(
            balance: .leastConnections, maxFails: 0, failTimeout: .seconds(30),
            check: HealthCheckConfiguration(interval: .milliseconds(200), timeout: .seconds(1), rise: 1, fall: 2,
                                            http: HTTPHealthCheck(method: "HEAD", path: "/status?full=1"))))
        let weighted = try parseConfiguration(minimalHost.replacingOccurrences(
            of: "backend = \"127.0.0.1:8080\"",
            with: "backend = [{ address = \"127.0.0.1:8080\", weight = 3 }, \"127.0.0.1:8081\", { address = \"unix:/run/app.sock\" }]"))
        #expect(weighted.hosts[0].backends == [.tcp(host: "127.0.0.1", port: 8080), .tcp(host: "127.0.0.1", port: 8081), .unix(path: "/run/app.sock")])
        #expect(weighted.hosts[0].backendHealth.weights == [3, 1, 1])
        #expect(weighted.hosts[0].backendHealth.weight(ofBackendAt: 1) == 1)
        let pathOnly = try parseConfiguration(minimalHost + "health_check_interval = 5\nhealth_check_http = \"/healthz\"\n")
        #expect(pathOnly.hosts[0].backendHealth.check?.http == HTTPHealthCheck(method: "GET", path: "/healthz"))
        let checkDefaults = try parseConfiguration(minimalHost + "balance = \"first\"\nhealth_check_interval = 5\n").hosts[0].backendHealth
        #expect(checkDefaults.balance == .first)
        #expect(checkDefaults.check == HealthCheckConfiguration(interval: .seconds(5), timeout: nil, rise: 2, fall: 3))
        #expect(checkDefaults.check?.effectiveTimeout(connectTimeout: .seconds(5)) == .seconds(2))
        #expect(checkDefaults.check?.effectiveTimeout(connectTimeout: .milliseconds(500)) == .milliseconds(500))
    }

    @Test func badValuesNameTheLineTheKeyAndWhatWasExpected() {
        let found = diagnostics(minimalHost + """
            balance = "random"
            backend_max_fails = -1
            backend_fail_timeout = "soon"
            health_check_interval = "0s"
            health_check_timeout = -5
            health_check_rise = 0
            health_check_fall = "three"
            health_check_http = "get healthz"
            """)
        #expect(found.contains { $0.keyPath == "host[0].balance" && $0.line == 8
            && $0.message == "expected round_robin, first or least_connections, got \"random\"" }, "\(found)")
        #expect(found.contains { $0.keyPath == "host[0].backend_max_fails" && $0.line == 9
            && $0.message == "expected an integer from 0 to 1000000, got -1" }, "\(found)")
        #expect(found.contains { $0.keyPath == "host[0].backend_fail_timeout" && $0.line == 10
            && $0.message.hasPrefix("expected a duration") && $0.message.hasSuffix("got \"soon\"") }, "\(found)")
        #expect(found.contains { $0.keyPath == "host[0].health_check_interval" && $0.line == 11
            && $0.message == "must be greater than zero" }, "\(found)")
        #expect(found.contains { $0.keyPath == "host[0].health_check_timeout" && $0.line == 12
            && $0.message.hasPrefix("expected a duration") }, "\(found)")
        #expect(found.contains { $0.keyPath == "host[0].health_check_rise" && $0.line == 13
            && $0.message == "expected an integer from 1 to 1000, got 0" }, "\(found)")
        #expect(found.contains { $0.keyPath == "host[0].health_check_fall" && $0.line == 14
            && $0.message == "expected an integer from 1 to 1000, got a string" }, "\(found)")
        #expect(found.contains { $0.keyPath == "host[0].health_check_http" && $0.line == 15
            && $0.message == "expected \"METHOD /path\" or \"/path\", e.g. \"GET /healthz\", got \"get healthz\"" }, "\(found)")
        #expect(found.count == 8, "\(found)")
    }

    @Test func badBackendEntriesNameTheElement() {
        let found = diagnostics(minimalHost.replacingOccurrences(
            of: "backend = \"127.0.0.1:8080\"",
            with: "backend = [{ address = \"127.0.0.1:8080\", weight = 0 }, { weight = 2 }, { address = \"x:1\", wieght = 2 }, 5]"))
        #expect(found.contains { $0.keyPath == "host[0].backend[0].weight" && $0.message == "expected an integer from 1 to 1000, got 0" }, "\(found)")
        #expect(found.contains { $0.keyPath == "host[0].backend[1]" && $0.message.contains("expected { address = ") }, "\(found)")
        #expect(found.contains { $0.keyPath == "host[0].backend[2].wieght" && $0.message.hasPrefix("unknown key (did you mean 'weight'?)") },
                "\(found)")
        #expect(found.contains { $0.keyPath == "host[0].backend[3]" && $0.message == "expected a string or an inline table, got an integer" },
                "\(found)")
        #expect(found.allSatisfy { $0.line == 7 }, "\(found)")
    }

    @Test func checkSettingsWithoutAnIntervalAreErrors() {
        let found = diagnostics(minimalHost + "health_check_rise = 3\nhealth_check_timeout = \"1s\"\nhealth_check_http = \"/\"\n")
        #expect(found.map(\.keyPath) == ["host[0].health_check_timeout", "host[0].health_check_rise", "host[0].health_check_http"], "\(found)")
        #expect(found.allSatisfy { $0.message.hasPrefix("has no effect without health_check_interval") })
        #expect(found.first?.description.contains("test.toml:9") == true, "\(found.first?.description ?? "")")
        let misspelt = diagnostics(minimalHost + "health_check_intervall = \"1s\"\n")
        #expect(misspelt.map(\.message) == ["unknown key (did you mean 'health_check_interval'?)"], "\(misspelt)")
    }

    @Test func httpCheckStatusLinesAndRequests() {
        func status(_ text: String) -> BackendHealthChecker.StatusLine { BackendHealthChecker.status(of: Array(text.utf8)) }
        #expect(status("HTTP/1.1 200 OK\r\n") == .code(200))
        #expect(status("HTTP/1.0 503\r\n") == .code(503))
        #expect(status("HTTP/1.1 204 ") == .code(204))
        #expect(status("HTTP/1.") == .incomplete)
        #expect(status("HTTP/1.1 30") == .incomplete)
        #expect(status("") == .incomplete)
        #expect(status("SSH-2.0-OpenSSH") == .invalid)
        #expect(status("HTTP/1.1 2x0 OK\r\n") == .invalid)
        #expect(status("HTTP/1.1 2000 OK\r\n") == .invalid)
        #expect(BackendHealthChecker.hostHeader(for: "app.internal:8080 (10.0.0.7:8080)") == "app.internal:8080")
        #expect(BackendHealthChecker.hostHeader(for: "[::1]:8080") == "[::1]:8080")
        #expect(BackendHealthChecker.hostHeader(for: "unix:/run/app.sock") == "localhost")
        #expect(HTTPHealthCheck.parse("GET /healthz") == HTTPHealthCheck(method: "GET", path: "/healthz"))
        for bad in ["healthz", "GET", "get /x", "GET /a b", "GET  /x y", ""] { #expect(HTTPHealthCheck.parse(bad) == nil, "\(bad)") }
        #expect(String(decoding: HTTPHealthCheck(path: "/h").request(host: "b:80"), as: UTF8.self)
                == "GET /h HTTP/1.0\r\nHost: b:80\r\nUser-Agent: portcullis-health-check\r\nConnection: close\r\n\r\n")
    }

    // MARK: Metrics

    @Test func exposition() {
        var snapshot = MetricsSnapshot()
        snapshot.backendHealth = [
            BackendHealthSample(host: "www", backend: "127.0.0.1:8001", up: true, succeeded: 7),
            BackendHealthSample(host: "www", backend: "127.0.0.1:8002", up: false, succeeded: 1, failed: 3, timedOut: 2),
        ]
        let text = ProxyMetrics.render(snapshot, buildLabels: [])
        #expect(text.contains("# TYPE portcullis_backend_up gauge\n"))
        #expect(text.contains("portcullis_backend_up{host=\"www\",backend=\"127.0.0.1:8001\"} 1\n"))
        #expect(text.contains("portcullis_backend_up{host=\"www\",backend=\"127.0.0.1:8002\"} 0\n"))
        #expect(text.contains("# TYPE portcullis_backend_checks_total counter\n"))
        #expect(text.contains("portcullis_backend_checks_total{host=\"www\",backend=\"127.0.0.1:8002\",result=\"ok\"} 1\n"))
        #expect(text.contains("portcullis_backend_checks_total{host=\"www\",backend=\"127.0.0.1:8002\",result=\"failed\"} 3\n"))
        #expect(text.contains("portcullis_backend_checks_total{host=\"www\",backend=\"127.0.0.1:8002\",result=\"timeout\"} 2\n"))
        let none = ProxyMetrics.render(MetricsSnapshot(), buildLabels: [])
        #expect(!none.contains("portcullis_backend_up{"), "no series without checks")
    }
}
