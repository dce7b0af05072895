import Synchronization

/// The process-wide `max_connections` budget and the `max_connections_per_client` budgets, shared by all
/// workers. Relaxed atomic adds per accept and per close, plus relaxed loads of the maximums: no lock, and
/// the only state workers share on the per-connection path.
///
/// A reload may change either maximum (`setMaximum`). Lowering one below the connections open now closes
/// none of them: new connections are refused until enough have closed.
final class ConnectionLimiter: Sendable {
    private let limit: Atomic<Int>
    private let current = Atomic<Int>(0)
    private let perClientLimit: Atomic<Int>
    /// Open connections per client.
    let clients = ClientConnectionCounts()

    /// `maximumPerClient` 0: no per-client limit.
    init(maximum: Int, maximumPerClient: Int = 0) {
        limit = Atomic(max(1, maximum))
        perClientLimit = Atomic(max(0, maximumPerClient))
    }

    /// The budget now in force.
    var maximum: Int { limit.load(ordering: .relaxed) }

    /// The per-client budget now in force (0: none).
    var maximumPerClient: Int { perClientLimit.load(ordering: .relaxed) }

    /// Replaces the budgets (`maximum` at least 1; `perClient` 0 for none) for the connections accepted from
    /// now on.
    func setMaximum(_ maximum: Int, perClient: Int) {
        limit.store(max(1, maximum), ordering: .relaxed)
        perClientLimit.store(max(0, perClient), ordering: .relaxed)
    }

    /// What `tryAcquire(client:)` decided.
    enum ClientAdmission {
        /// Counted in these slots: give them back with `release(client:)` when the connection closes.
        case counted(ClientConnectionCounts.Slots)
        /// No per-client limit applies (none configured, or a unix-domain peer): nothing to give back.
        case unlimited
        /// The client already has the maximum open.
        case refused(maximum: Int)
    }

    /// Counts a connection against its client's budget.
    @inline(__always)
    func tryAcquire(client: SocketAddress) -> ClientAdmission {
        let maximum = perClientLimit.load(ordering: .relaxed)
        guard maximum > 0, let slots = clients.slots(for: client) else { return .unlimited }
        return clients.tryAcquire(slots, limit: maximum) ? .counted(slots) : .refused(maximum: maximum)
    }

    /// Returns a connection counted by `tryAcquire(client:)`.
    @inline(__always)
    func release(client slots: ClientConnectionCounts.Slots) {
        clients.release(slots)
    }

    /// Takes a slot; false (and nothing taken) when all `maximum` slots are in use.
    @inline(__always)
    func tryAcquire() -> Bool {
        let (_, after) = current.wrappingAdd(1, ordering: .relaxed)
        if after > limit.load(ordering: .relaxed) {
            current.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Returns a slot taken by `tryAcquire`.
    @inline(__always)
    func release() {
        current.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Connections open right now.
    var count: Int { current.load(ordering: .relaxed) }
}
