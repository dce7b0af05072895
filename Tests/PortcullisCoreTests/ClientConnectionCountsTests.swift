import Testing
@testable import PortcullisCore

/// `max_connections_per_client` accounting: per IPv4 address, per IPv6 /64, independent between clients.
@Suite struct ClientConnectionCountsTests {
    private func address(_ text: String) throws -> SocketAddress {
        try #require(SocketAddress(numericHost: text, port: 443))
    }

    @Test func aClientIsRefusedOverItsLimitUntilOneCloses() throws {
        let limiter = ConnectionLimiter(maximum: 100, maximumPerClient: 2)
        let client = try address("192.0.2.1")
        var held: [ClientConnectionCounts.Slots] = []
        for _ in 0..<2 {
            guard case .counted(let slots) = limiter.tryAcquire(client: client) else { Issue.record("refused too early"); return }
            held.append(slots)
        }
        guard case .refused(let maximum) = limiter.tryAcquire(client: client) else { Issue.record("third admitted"); return }
        #expect(maximum == 2)
        #expect(limiter.clients.count(held[0]) == 2, "a refusal counts nothing")
        // Other clients have their own budgets.
        for other in ["192.0.2.2", "198.51.100.1", "2001:db8::1"] {
            guard case .counted(let slots) = limiter.tryAcquire(client: try address(other)) else {
                Issue.record("\(other) refused"); return
            }
            limiter.release(client: slots)
        }
        limiter.release(client: held.removeLast())
        guard case .counted = limiter.tryAcquire(client: client) else { Issue.record("slot not given back"); return }
    }

    @Test func ipv6CountsByTheSlash64AndMappedIPv4AsIPv4() throws {
        let counts = ClientConnectionCounts()
        let a = try #require(counts.slots(for: try address("2001:db8:0:1::1")))
        #expect(counts.slots(for: try address("2001:db8:0:1:ffff::2")) == a, "same /64")
        #expect(counts.slots(for: try address("2001:db8:0:2::1")) != a, "another /64")
        let v4 = try #require(counts.slots(for: try address("192.0.2.7")))
        #expect(counts.slots(for: try address("::ffff:192.0.2.7")) == v4, "a dual-stack listener's view of the same client")
        #expect(counts.slots(for: try address("192.0.2.8")) != v4)
        #expect(counts.slots(for: try #require(SocketAddress(unixPath: "/run/x.sock"))) == nil)
    }

    @Test func noLimitCountsNothingAndAReloadSetsOne() throws {
        let limiter = ConnectionLimiter(maximum: 100)
        let client = try address("192.0.2.1")
        for _ in 0..<10 {
            guard case .unlimited = limiter.tryAcquire(client: client) else { Issue.record("limited without a limit"); return }
        }
        limiter.setMaximum(100, perClient: 1)
        #expect(limiter.maximumPerClient == 1)
        guard case .counted = limiter.tryAcquire(client: client) else { Issue.record("first refused"); return }
        guard case .refused = limiter.tryAcquire(client: client) else { Issue.record("second admitted"); return }
    }
}
