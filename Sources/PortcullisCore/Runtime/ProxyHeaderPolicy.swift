/// A listener's `accept_proxy` setting as the runtime applies it: every connection must start with a PROXY
/// protocol header, and only the peers in `sources` (the load balancers) may connect at all.
struct ProxyHeaderPolicy: Sendable, Equatable {
    /// `proxy_sources`.
    let sources: [NetworkPrefix]

    /// The policy of `listener`, or nil when it does not accept PROXY headers.
    init?(listener: ListenerConfiguration) {
        guard listener.acceptProxy else { return nil }
        sources = listener.proxySources
    }

    init(sources: [NetworkPrefix]) {
        self.sources = sources
    }

    /// True when `peer` (the socket's peer address) may send a PROXY header. Linear: the list is a handful
    /// of balancer networks.
    func admits(_ peer: SocketAddress) -> Bool {
        for source in sources where source.contains(peer) { return true }
        return false
    }
}
