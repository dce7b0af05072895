/// One backend address as one worker sees it: where to connect, the label the access log shows, and this
/// worker's own view of its health and load. Confined to the worker's thread (no atomics, no locks); the
/// only shared input is the active checker's verdict, read with one relaxed atomic load.
///
/// A reload hands the same slot to the new table's selector when the host name, address and label are
/// unchanged, so a reload neither forgets that an address is down nor loses count of the connections open
/// to it (connections of the old table release the slot they took).
final class BackendSlot {
    let address: SocketAddress
    /// The configured backend (`127.0.0.1:8080`, `app.internal:8080`, `unix:/run/app.sock`).
    let label: String
    /// The active checker's verdict for this address; nil when the host has no active checks.
    var health: BackendHealthState?
    /// Consecutive failed connects of real traffic (reset by one success).
    fileprivate(set) var consecutiveFailures = 0
    /// Monotonic time until which passive health skips the address (0: not skipped).
    fileprivate(set) var downUntil: UInt64 = 0
    /// Connections of this worker that are connecting or connected to the address.
    fileprivate(set) var activeConnections = 0

    init(address: SocketAddress, label: String, health: BackendHealthState? = nil) {
        self.address = address
        self.label = label
        self.health = health
    }
}

/// The addresses one connection has tried so far (a bit per address; a connection that fails over tries
/// each address at most once). Inline for up to 64 addresses, so the connection path allocates nothing.
struct BackendAttempts {
    private var bits: UInt64 = 0
    private var overflow: [Bool] = []
    /// The index of the address tried last; -1 before the first.
    private(set) var last = -1
    private(set) var count = 0

    func contains(_ index: Int) -> Bool {
        if index < 64 { return bits & (1 << UInt64(index)) != 0 }
        return index - 64 < overflow.count && overflow[index - 64]
    }

    mutating func insert(_ index: Int) {
        if index < 64 {
            bits |= 1 << UInt64(index)
        } else {
            if overflow.count <= index - 64 { overflow += Array(repeating: false, count: index - 64 - overflow.count + 1) }
            overflow[index - 64] = true
        }
        last = index
        count += 1
    }
}

/// What a connect outcome changed in an address's passive health, for the worker's log line.
enum BackendTransition: Equatable {
    case none
    /// Reached `backend_max_fails`: skipped for `backend_fail_timeout` from now.
    case down
    /// Failed again after its fail timeout (or while it was skipped anyway): skipped for another fail timeout.
    case stillDown
    /// The first success after it had been marked down.
    case up
}

/// A host's backend addresses as one worker balances over them: which address a connection tries next,
/// given the host's `balance`, the addresses it has already tried, passive health (this worker's connect
/// failures) and active health (the checker's verdict). One per host per worker, confined to the worker's
/// thread; every method takes `now` (monotonic nanoseconds) so tests drive it with their own clock.
///
/// An address is *up* when neither signal marks it down. A connection tries the up addresses first, in the
/// balance's order; once none is left it tries the remaining (down) ones in configuration order, so that a
/// host whose addresses are all down still reaches one that has just come back, rather than refusing the
/// client without trying.
final class BackendSelector {
    let hostName: String
    let slots: [BackendSlot]
    let balance: BalanceMethod
    let maxFails: Int
    let failTimeout: UInt64
    /// Round-robin position: where the next connection's search starts.
    private var next: Int
    /// The weight of each slot (its `backend` entry's); all 1 unless the host sets weights.
    let weights: [Int]
    /// Some weight differs from 1: `round_robin` is then nginx's smooth weighted round-robin.
    private let weighted: Bool
    /// Smooth weighted round-robin state: each slot's current weight.
    private var currentWeights: [Int]

    /// - Parameters:
    ///   - start: the first connection's round-robin position (workers use their index, so the first
    ///     connections of each worker do not all go to the first address).
    ///   - weights: one per slot; missing ones weigh 1.
    init(hostName: String, slots: [BackendSlot], configuration: BackendHealthConfiguration, start: Int = 0, weights: [Int] = []) {
        self.hostName = hostName
        self.slots = slots
        self.balance = configuration.balance
        self.maxFails = configuration.maxFails
        self.failTimeout = max(1, configuration.failTimeout.clampedNanoseconds)
        self.next = slots.isEmpty ? 0 : start % slots.count
        self.weights = slots.indices.map { $0 < weights.count ? max(1, weights[$0]) : 1 }
        self.weighted = self.weights.contains { $0 != 1 }
        self.currentWeights = Array(repeating: 0, count: slots.count)
    }

    /// True when neither this worker's connect failures nor the active checks mark `slot` down.
    @inline(__always)
    func isUp(_ slot: BackendSlot, now: UInt64) -> Bool {
        if slot.downUntil > now { return false }
        if let health = slot.health, !health.isUp { return false }
        return true
    }

    /// The next address for a connection that has made `attempts` (updated here), or nil when it has tried
    /// every address.
    func pick(_ attempts: inout BackendAttempts, now: UInt64) -> Int? {
        let count = slots.count
        guard attempts.count < count else { return nil }
        let first = attempts.count == 0
        let start = first ? next : (attempts.last + 1) % count
        var chosen = -1
        switch balance {
        case .first:
            for index in 0..<count where !attempts.contains(index) && isUp(slots[index], now: now) {
                chosen = index
                break
            }
        case .roundRobin where weighted:
            // Smooth weighted round-robin (nginx): every candidate gains its weight, the richest is chosen and
            // pays the total, so 3:1:1 gives a, b, a, c, a rather than a, a, a, b, c.
            var total = 0
            for index in 0..<count where !attempts.contains(index) && isUp(slots[index], now: now) {
                currentWeights[index] += weights[index]
                total += weights[index]
                if chosen < 0 || currentWeights[index] > currentWeights[chosen] { chosen = index }
            }
            if chosen >= 0 { currentWeights[chosen] -= total }
        case .roundRobin:
            for offset in 0..<count {
                let index = (start + offset) % count
                if !attempts.contains(index), isUp(slots[index], now: now) {
                    chosen = index
                    break
                }
            }
        case .leastConnections:
            // Fewest open connections per unit of weight: a/wa < b/wb, compared as a*wb < b*wa.
            for offset in 0..<count {
                let index = (start + offset) % count
                let slot = slots[index]
                guard !attempts.contains(index), isUp(slot, now: now) else { continue }
                if chosen < 0 || slot.activeConnections * weights[chosen] < slots[chosen].activeConnections * weights[index] {
                    chosen = index
                }
            }
        }
        if chosen >= 0 {
            // The next connection starts after this one's choice, so skipping a down address does not
            // double the share of the address after it.
            if first { next = (chosen + 1) % count }
        } else {
            // Every address not tried yet is down: the first of them in configuration order.
            for index in 0..<count where !attempts.contains(index) {
                chosen = index
                break
            }
        }
        attempts.insert(chosen)
        return chosen
    }

    /// A connection starts connecting to `slots[index]` (counts for `least_connections`).
    func acquire(_ index: Int) {
        slots[index].activeConnections += 1
    }

    /// A connection that `acquire`d `slot` failed over or closed. Takes the slot itself rather than an index:
    /// after a reload the connection's slot may belong to the new table's selector too.
    func release(_ slot: BackendSlot) {
        if slot.activeConnections > 0 { slot.activeConnections -= 1 }
    }

    /// A connect to `slots[index]` failed (refused, unreachable, timed out).
    func connectFailed(_ index: Int, now: UInt64) -> BackendTransition {
        let slot = slots[index]
        slot.consecutiveFailures += 1
        guard maxFails > 0, slot.consecutiveFailures >= maxFails else { return .none }
        let wasDown = slot.consecutiveFailures > maxFails
        slot.downUntil = max(1, now &+ failTimeout)
        return wasDown ? .stillDown : .down
    }

    /// A connect to `slots[index]` succeeded: its failures are forgotten.
    func connectSucceeded(_ index: Int) -> BackendTransition {
        let slot = slots[index]
        let wasDown = maxFails > 0 && slot.consecutiveFailures >= maxFails
        slot.consecutiveFailures = 0
        slot.downUntil = 0
        return wasDown ? .up : .none
    }
}
