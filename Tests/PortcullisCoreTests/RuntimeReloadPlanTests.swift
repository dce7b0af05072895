import Testing
@testable import PortcullisCore

/// `ReloadPlan`: what a reload binds, closes, moves and warns about, computed from two configurations.
@Suite struct RuntimeReloadPlanTests {
    private func address(_ text: String) throws -> ListenAddress {
        try ListenAddress.parse(text).get()
    }

    private func listener(_ name: String, _ addresses: [String], backlog: Int = 511) throws -> ListenerConfiguration {
        ListenerConfiguration(name: name, addresses: try addresses.map(address), hosts: ["h"], defaultHost: "h", backlog: backlog)
    }

    /// The bindings `bind` creates for `configuration` (ids from 1, in file order), without sockets.
    private func bindings(for configuration: ProxyConfiguration) throws -> [ListenerBinding] {
        var result: [ListenerBinding] = []
        for listener in configuration.listeners {
            for listenAddress in listener.addresses {
                let socketAddress = try #require(SocketAddress(numericHost: listenAddress.host, port: listenAddress.port))
                result.append(ListenerBinding(id: result.count + 1, listener: listener.name, source: .configured(listenAddress),
                                              address: socketAddress, backlog: listener.backlog, fds: []))
            }
        }
        return result
    }

    private func plan(_ old: ProxyConfiguration, _ new: ProxyConfiguration, inherited: [InheritedSocket] = [],
                      bindings: [ListenerBinding]? = nil) throws -> ReloadPlan {
        let assignment = try SocketActivation(sockets: inherited).assign(to: new)
        return ReloadPlan(bindings: try bindings ?? self.bindings(for: old), running: old, new: new, assignment: assignment)
    }

    @Test func anUnchangedFileChangesNothing() throws {
        let configuration = ProxyConfiguration(listeners: [try listener("a", ["127.0.0.1:8443", "[::1]:8443"]), try listener("b", ["127.0.0.1:9443"])])
        let result = try plan(configuration, configuration)
        #expect(result.keepsListeners)
        #expect(result.restartOnly.isEmpty)
        #expect(result.configuration == configuration)
    }

    @Test func addressesAreMatchedByValueWhateverTheListenerOrder() throws {
        let old = ProxyConfiguration(listeners: [try listener("a", ["127.0.0.1:8443"]), try listener("b", ["127.0.0.1:9443"])])
        let new = ProxyConfiguration(listeners: [try listener("b", ["127.0.0.1:9443"]), try listener("a", ["127.0.0.1:8443"])])
        #expect(try plan(old, new).keepsListeners)
    }

    @Test func newAddressesAreBoundAndRemovedOnesClosed() throws {
        let old = ProxyConfiguration(listeners: [try listener("a", ["127.0.0.1:8443", "127.0.0.1:8444"]), try listener("gone", ["127.0.0.1:7000"])])
        let new = ProxyConfiguration(listeners: [try listener("a", ["127.0.0.1:8443", "[::1]:8443"], backlog: 100),
                                                 try listener("new", ["127.0.0.1:9000"])])
        let result = try plan(old, new)
        #expect(result.bind == [
            ReloadPlan.NewAddress(listener: "a", address: try address("[::1]:8443"), backlog: 100),
            ReloadPlan.NewAddress(listener: "new", address: try address("127.0.0.1:9000"), backlog: 511),
        ])
        // Binding 2 is a:8444, binding 3 is gone:7000.
        #expect(result.close == [2, 3])
        #expect(result.moves.isEmpty)
        // The kept address gets the new backlog in place.
        #expect(result.backlogs == [1: 100])
        #expect(!result.keepsListeners)
    }

    @Test func anAddressMovedToAnotherListenerKeepsItsSockets() throws {
        let old = ProxyConfiguration(listeners: [try listener("old-name", ["127.0.0.1:8443"])])
        let new = ProxyConfiguration(listeners: [try listener("new-name", ["127.0.0.1:8443"])])
        let result = try plan(old, new)
        #expect(result.bind.isEmpty)
        #expect(result.close.isEmpty)
        #expect(result.moves == [1: "new-name"])
    }

    @Test func inheritedSocketsAreNeverBoundOrClosedAndFollowTheirListener() throws {
        let systemdAddress = try #require(SocketAddress(numericHost: "127.0.0.1", port: 443))
        let socket = InheritedSocket(fd: 3, name: nil, address: systemdAddress)
        let old = ProxyConfiguration(listeners: [try listener("a", ["127.0.0.1:443", "127.0.0.1:8443"])])
        let new = ProxyConfiguration(listeners: [try listener("b", ["127.0.0.1:443"])])
        let current = [
            ListenerBinding(id: 1, listener: "a", source: .inherited(fd: 3), address: systemdAddress, backlog: 511, fds: []),
            ListenerBinding(id: 2, listener: "a", source: .configured(try address("127.0.0.1:8443")),
                            address: try #require(SocketAddress(numericHost: "127.0.0.1", port: 8443)), backlog: 511, fds: []),
        ]
        let result = try plan(old, new, inherited: [socket], bindings: current)
        #expect(result.bind.isEmpty, "the inherited address is not bound by the proxy")
        #expect(result.close == [2])
        #expect(result.moves == [1: "b"])
        // An inherited socket that no listener of the new file claims fails the reload (assign throws).
        let orphaning = ProxyConfiguration(listeners: [try listener("c", ["127.0.0.1:9443"])])
        #expect(throws: SocketActivationError.self) { try plan(old, orphaning, inherited: [socket], bindings: current) }
    }

    @Test func restartOnlyKeysKeepTheirRunningValuesAndAreEachReported() throws {
        let old = ProxyConfiguration(workers: 2, logLevel: .info, maxConnections: 100, listeners: [try listener("a", ["127.0.0.1:8443"])])
        var new = old
        new.workers = 4
        new.user = "portcullis"
        new.logLevel = .debug
        new.logFormat = .json
        new.accessLog = .off
        new.metricsListen = try address("127.0.0.1:9100")
        new.maxConnections = 50
        new.timeouts.handshake = .seconds(2)
        new.drainTimeout = .seconds(3)
        let result = try plan(old, new)
        #expect(result.restartOnly.map(\.key) == ["workers", "user", "log_level", "log_format", "access_log", "metrics_listen"])
        let workers = try #require(result.restartOnly.first)
        #expect(workers.running == "2" && workers.requested == "4")
        #expect(workers.description.contains("workers") && workers.description.contains("takes effect at the next restart"))
        #expect(result.restartOnly[1].running == "(unset)" && result.restartOnly[1].requested == "portcullis")
        // What runs: the restart-only keys as before, everything else from the file.
        #expect(result.configuration.workers == 2)
        #expect(result.configuration.user == nil)
        #expect(result.configuration.logLevel == .info)
        #expect(result.configuration.logFormat == .text)
        #expect(result.configuration.accessLog == old.accessLog)
        #expect(result.configuration.metricsListen == nil)
        #expect(result.configuration.maxConnections == 50)
        #expect(result.configuration.timeouts.handshake == .seconds(2))
        #expect(result.configuration.drainTimeout == .seconds(3))
        #expect(result.keepsListeners)
    }

    @Test func runtimeSettingsFollowTheReloadedConfiguration() throws {
        let old = ProxyConfiguration(workers: 3, maxConnections: 100, listeners: [try listener("a", ["127.0.0.1:8443"])])
        var new = old
        new.workers = 8
        new.maxConnections = 7
        new.timeouts.idle = .seconds(9)
        let settings = RuntimeSettings(try plan(old, new).configuration)
        #expect(settings.workers == 3)
        #expect(settings.maxConnections == 7)
        #expect(settings.idleTimeout == 9_000_000_000)
    }

    @Test func theLimiterMaximumChangesForTheNextAcquire() {
        let limiter = ConnectionLimiter(maximum: 3)
        #expect(limiter.tryAcquire() && limiter.tryAcquire())
        limiter.setMaximum(2, perClient: 0)
        #expect(!limiter.tryAcquire(), "two open, the new maximum is two")
        #expect(limiter.count == 2)
        limiter.release()
        #expect(limiter.tryAcquire())
        limiter.setMaximum(0, perClient: 0)
        #expect(limiter.maximum == 1)
    }
}
