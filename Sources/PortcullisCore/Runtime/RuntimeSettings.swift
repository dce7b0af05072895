/// The parts of `ProxyConfiguration` the workers use, in the units they use (monotonic nanoseconds). Fixed
/// at startup: a reload swaps the host table, not these.
struct RuntimeSettings: Sendable {
    var workers: Int
    var maxConnections: Int
    var handshakeTimeout: UInt64
    var idleTimeout: UInt64
    var backendConnectTimeout: UInt64
    var drainTimeout: UInt64
    /// Listener names, indexed like the bound sockets' `listenerIndex`.
    var listenerNames: [String]
    /// Each listener's `accept_proxy` policy (nil: no PROXY header expected), indexed like `listenerNames`.
    var proxyHeaderPolicies: [ProxyHeaderPolicy?]

    init(_ configuration: ProxyConfiguration) {
        workers = max(1, configuration.workers)
        maxConnections = max(1, configuration.maxConnections)
        handshakeTimeout = max(1, configuration.timeouts.handshake.clampedNanoseconds)
        idleTimeout = max(1, configuration.timeouts.idle.clampedNanoseconds)
        backendConnectTimeout = max(1, configuration.timeouts.backendConnect.clampedNanoseconds)
        drainTimeout = configuration.drainTimeout.clampedNanoseconds
        listenerNames = configuration.listeners.map(\.name)
        proxyHeaderPolicies = configuration.listeners.map(ProxyHeaderPolicy.init(listener:))
    }
}
