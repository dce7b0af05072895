import Synchronization

/// One monotonically increasing number with exactly one writing thread (a worker, or the control thread)
/// and any number of reading threads (the metrics endpoint).
///
/// Why an `Atomic` with relaxed ordering and not a plain integer: the scrape thread reads while the owner
/// writes, and a plain `UInt64` read concurrently with a write is a data race in Swift's memory model. Why
/// not `wrappingAdd`: with a single writer, a relaxed load followed by a relaxed store is already exact (no
/// other thread ever stores), and on x86-64 and arm64 it compiles to ordinary loads and stores, whereas an
/// atomic read-modify-write is a locked instruction. Nothing here is shared between workers: each worker
/// owns its own counters and the scrape sums them.
final class MetricCounter: Sendable {
    private let storage = Atomic<UInt64>(0)

    init() {}

    /// Adds `amount`. Only the owning thread may call it.
    @inline(__always)
    func add(_ amount: UInt64 = 1) {
        storage.store(storage.load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }

    /// Adds `amount` with release ordering, so that a reader that loads this counter with `loadAcquiring()`
    /// also sees every earlier `add` of the same thread to other counters (used for "closed" so that a scrape
    /// never sees more closes than opens).
    @inline(__always)
    func addReleasing(_ amount: UInt64 = 1) {
        storage.store(storage.load(ordering: .relaxed) &+ amount, ordering: .releasing)
    }

    /// The current value, from any thread.
    var value: UInt64 { storage.load(ordering: .relaxed) }

    /// The current value, ordered after the owner's earlier writes (pairs with `addReleasing`).
    func loadAcquiring() -> UInt64 { storage.load(ordering: .acquiring) }
}
