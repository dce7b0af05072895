import Synchronization

/// The process-wide `max_connections` budget, shared by all workers. One relaxed atomic add per accept and
/// per close, plus one relaxed load of the maximum: no lock, and the only state workers share on the
/// per-connection path.
///
/// A reload may change the maximum (`setMaximum`). Lowering it below the connections open now closes none
/// of them: new connections are refused until enough have closed.
final class ConnectionLimiter: Sendable {
    private let limit: Atomic<Int>
    private let current = Atomic<Int>(0)

    init(maximum: Int) {
        limit = Atomic(max(1, maximum))
    }

    /// The budget now in force.
    var maximum: Int { limit.load(ordering: .relaxed) }

    /// Replaces the budget (at least 1) for the connections accepted from now on.
    func setMaximum(_ maximum: Int) {
        limit.store(max(1, maximum), ordering: .relaxed)
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
