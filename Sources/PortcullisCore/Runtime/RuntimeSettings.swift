/// The parts of `ProxyConfiguration` the workers use, in the units they use (monotonic nanoseconds).
///
/// Each worker holds its own copy, confined to its thread (no lock on the connection path); a reload sends
/// every worker the new copy with the new table. What a new copy changes for connections already open: the
/// handshake timeout is armed once at accept, so an open handshake keeps the old one; the backend-connect
/// timeout is read each time a backend connect starts; the idle timeout is read each time a connection's idle
/// timer is re-armed, so open connections adopt a new idle timeout at their next idle check (at the latest
/// one old idle period after the reload). `drainTimeout` is the control thread's copy.
struct RuntimeSettings: Sendable, Equatable {
    var workers: Int
    var maxConnections: Int
    var handshakeTimeout: UInt64
    var idleTimeout: UInt64
    var backendConnectTimeout: UInt64
    var drainTimeout: UInt64
    /// `accept_proxy` per listener name (absent: no PROXY header expected). A reload's new copy applies to
    /// connections accepted after it.
    var proxyHeaderPolicies: [String: ProxyHeaderPolicy]

    init(_ configuration: ProxyConfiguration) {
        workers = max(1, configuration.workers)
        maxConnections = max(1, configuration.maxConnections)
        handshakeTimeout = max(1, configuration.timeouts.handshake.clampedNanoseconds)
        idleTimeout = max(1, configuration.timeouts.idle.clampedNanoseconds)
        backendConnectTimeout = max(1, configuration.timeouts.backendConnect.clampedNanoseconds)
        drainTimeout = configuration.drainTimeout.clampedNanoseconds
        proxyHeaderPolicies = [:]
        for listener in configuration.listeners {
            if let policy = ProxyHeaderPolicy(listener: listener) { proxyHeaderPolicies[listener.name] = policy }
        }
    }
}
