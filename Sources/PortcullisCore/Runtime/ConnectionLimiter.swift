import Synchronization

/// The process-wide `max_connections` budget, shared by all workers. One relaxed atomic add per accept and
/// per close: no lock, and the only state workers share on the per-connection path.
final class ConnectionLimiter: Sendable {
    let maximum: Int
    private let current = Atomic<Int>(0)

    init(maximum: Int) {
        self.maximum = max(1, maximum)
    }

    /// Takes a slot; false (and nothing taken) when all `maximum` slots are in use.
    @inline(__always)
    func tryAcquire() -> Bool {
        let (_, after) = current.wrappingAdd(1, ordering: .relaxed)
        if after > maximum {
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
