internal import CPortcullisSystem

/// Connections open per client, shared by every worker, for `max_connections_per_client`: so that one client
/// (or one IPv6 /64, which a single host usually owns whole) cannot take the whole `max_connections` budget and
/// lock everyone else out.
///
/// A fixed table of counters, never a map: a client is counted in two slots picked by a keyed hash of its
/// address (the key is random per process, so nobody can aim at another client's slots), and its count is the
/// smaller of the two (a count-min sketch). Another client can only make it look busier by sharing both slots,
/// about one chance in 4 billion per pair. Two relaxed atomic adds per accept and two subtracts per close: no
/// lock, no allocation, nothing that grows with the number of clients (256 KiB in all).
final class ClientConnectionCounts: @unchecked Sendable {
    /// The two counters of one client.
    struct Slots: Sendable, Equatable {
        let first: Int
        let second: Int
    }

    static let slotCount = 1 << 16
    private static let slotMask = UInt64(slotCount - 1)

    // Written only through the C shim's atomic operations; the pointer itself never changes.
    private let table: UnsafeMutablePointer<UInt32>
    private let key = (UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max))

    init() {
        table = .allocate(capacity: Self.slotCount)
        table.initialize(repeating: 0, count: Self.slotCount)
    }

    deinit { table.deallocate() }

    /// The slots of the client at `address`: an IPv4 address (also as `::ffff:a.b.c.d` from a dual-stack
    /// listener) counts alone, an IPv6 address by its /64. Nil for a unix-domain peer.
    func slots(for address: SocketAddress) -> Slots? {
        guard let (high, low) = NetworkPrefix.mappedBits(of: address) else { return nil }
        let isIPv4 = high == 0 && low >> 32 == 0xFFFF
        var hasher = Hasher()
        hasher.combine(key.0)
        hasher.combine(high)
        hasher.combine(isIPv4 ? low : 0)
        hasher.combine(key.1)
        let hash = UInt64(bitPattern: Int64(hasher.finalize()))
        var second = Int(hash >> 32 & Self.slotMask)
        let first = Int(hash & Self.slotMask)
        if second == first { second = (first + 1) & Int(Self.slotMask) }
        return Slots(first: first, second: second)
    }

    /// Counts one more connection in `slots` unless the client already has `limit` open; false (and nothing
    /// counted) when it has.
    @inline(__always)
    func tryAcquire(_ slots: Slots, limit: Int) -> Bool {
        let first = portcullis_counter_add(table, slots.first, 1)
        let second = portcullis_counter_add(table, slots.second, 1)
        if Int(min(first, second)) > limit {
            release(slots)
            return false
        }
        return true
    }

    /// Returns a connection counted by `tryAcquire`.
    @inline(__always)
    func release(_ slots: Slots) {
        portcullis_counter_subtract(table, slots.first, 1)
        portcullis_counter_subtract(table, slots.second, 1)
    }

    /// The client's count now: its connections, plus any other client's that share both its slots.
    func count(_ slots: Slots) -> Int {
        Int(min(portcullis_counter_load(table, slots.first), portcullis_counter_load(table, slots.second)))
    }
}
