import Synchronization

/// The active health of one backend address: written by the health checker thread only, read by every
/// worker (one relaxed load per address a connection considers) and by the metrics scrape.
///
/// Relaxed ordering is enough: the verdict is a hint that guards no other memory, and a worker that sees
/// it a moment late only makes one more (or one fewer) attempt. The counters of consecutive results live
/// here too, so that a reload's new checker continues where the old one stopped (a reload neither revives
/// a down address nor resets its counters).
final class BackendHealthState: Sendable {
    let host: String
    /// The `backend` label of the metrics: the configured backend, plus the address when its name resolved
    /// to several.
    let label: String
    let address: SocketAddress
    private let up = Atomic<Bool>(true)
    /// No check has finished yet: the first failure alone takes the address down.
    private let unchecked = Atomic<Bool>(true)
    private let successes = Atomic<Int>(0)
    private let failures = Atomic<Int>(0)
    let checksSucceeded = MetricCounter()
    let checksFailed = MetricCounter()
    let checksTimedOut = MetricCounter()

    init(host: String, label: String, address: SocketAddress) {
        self.host = host
        self.label = label
        self.address = address
    }

    /// The checker's verdict (true until a check says otherwise).
    @inline(__always)
    var isUp: Bool { up.load(ordering: .relaxed) }

    /// What one check result changed.
    enum Change: Equatable {
        case none
        /// Went down after `failures` consecutive failed checks.
        case down(failures: Int)
        /// Came back after `successes` consecutive successful checks.
        case up(successes: Int)
    }

    /// Records a check result (checker thread only) and applies `rise`/`fall`.
    func record(success: Bool, timedOut: Bool = false, rise: Int, fall: Int) -> Change {
        let first = unchecked.load(ordering: .relaxed)
        unchecked.store(false, ordering: .relaxed)
        if success {
            checksSucceeded.add()
            failures.store(0, ordering: .relaxed)
            let count = successes.load(ordering: .relaxed) + 1
            successes.store(count, ordering: .relaxed)
            if !isUp, count >= rise {
                up.store(true, ordering: .relaxed)
                return .up(successes: count)
            }
            return .none
        }
        if timedOut { checksTimedOut.add() } else { checksFailed.add() }
        successes.store(0, ordering: .relaxed)
        let count = failures.load(ordering: .relaxed) + 1
        failures.store(count, ordering: .relaxed)
        if isUp, count >= fall || first {
            up.store(false, ordering: .relaxed)
            return .down(failures: count)
        }
        return .none
    }
}
