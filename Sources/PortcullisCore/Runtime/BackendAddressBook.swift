import Synchronization

/// What the backend names of the configuration resolve to, shared by the workers.
///
/// `getaddrinfo` blocks, and a slow or dead DNS server would stall every connection of the worker that
/// called it, so names are resolved off the event loops: on the control thread when a configuration is
/// loaded (`prepare`, at startup and at each reload), and again every `backend_resolve_interval` on
/// `BackendResolver`'s thread (`refresh`), so that a backend whose address changes (a container restarted,
/// a DNS failover) is followed without a reload. Numeric addresses and unix sockets are never looked up.
///
/// Workers read `version` (one atomic load per new connection) and take the lock only to rebuild a host's
/// backend selection after it changed: nothing on a connection's path waits for DNS or for another worker.
///
/// A name that stops resolving keeps its last addresses (a DNS outage must not take a working backend
/// away); a name that never resolved has none, and its host's clients get `backend_unavailable` until it does.
final class BackendAddressBook: Sendable {
    /// `getaddrinfo` for `host`, `port`: every address, in resolver order; empty when the name does not resolve.
    typealias Resolver = @Sendable (_ host: String, _ port: UInt16) -> [SocketAddress]

    /// A name whose addresses changed in a `refresh`.
    struct Change: Sendable, Equatable {
        let backend: BackendAddress
        let old: [SocketAddress]
        let new: [SocketAddress]
    }

    private let resolver: Resolver
    private let names = Mutex<[BackendAddress: [SocketAddress]]>([:])
    private let generation = Atomic<UInt64>(0)

    init(resolver: @escaping Resolver = { SocketAddress.resolve(host: $0, port: $1) }) {
        self.resolver = resolver
    }

    /// Changes whenever some name's addresses change: a worker rebuilds its selections when it sees a new value.
    var version: UInt64 { generation.load(ordering: .acquiring) }

    /// The addresses of `backend` now. A name nobody prepared (a router other than a compiled `HostTable`)
    /// is resolved here once, on the caller's thread, and refreshed from then on.
    func addresses(of backend: BackendAddress) -> [SocketAddress] {
        switch backend {
        case .unix(let path):
            return SocketAddress(unixPath: path).map { [$0] } ?? []
        case .tcp(let host, let port):
            if let numeric = SocketAddress(numericHost: host, port: port) { return [numeric] }
            if let known = names.withLock({ $0[backend] }) { return known }
            let resolved = resolver(host, port)
            return names.withLock { known in
                if let raced = known[backend] { return raced }
                known[backend] = resolved
                return resolved
            }
        }
    }

    /// True when some backend is a name (something to resolve again).
    var hasNames: Bool { names.withLock { !$0.isEmpty } }

    /// The addresses last resolved for the name `backend`; nil when it is not a name in use.
    func known(_ backend: BackendAddress) -> [SocketAddress]? {
        names.withLock { $0[backend] }
    }

    /// Resolves the names among `backends` (blocking: call it on the control thread) and forgets the names
    /// no longer listed. With `resolvingKnown` false, names already known keep their addresses without a
    /// lookup (the resolver thread refreshes them; a reload must not wait for a DNS server once per name).
    /// A name that does not resolve now keeps the addresses it had. Returns those names.
    @discardableResult
    func prepare(_ backends: [BackendAddress], resolvingKnown: Bool = true) -> [BackendAddress] {
        var unresolved: [BackendAddress] = []
        var resolved: [BackendAddress: [SocketAddress]] = [:]
        let previous = names.withLock { $0 }
        for backend in Set(backends) {
            guard case .tcp(let host, let port) = backend, SocketAddress(numericHost: host, port: port) == nil else { continue }
            if !resolvingKnown, let known = previous[backend] {
                resolved[backend] = known
                continue
            }
            let addresses = resolver(host, port)
            if addresses.isEmpty { unresolved.append(backend) }
            resolved[backend] = addresses.isEmpty ? previous[backend] ?? [] : Self.keepingOrder(of: previous[backend], addresses)
        }
        let changed = names.withLock { names -> Bool in
            defer { names = resolved }
            return names != resolved
        }
        if changed { generation.add(1, ordering: .releasing) }
        return unresolved.sorted { $0.description < $1.description }
    }

    /// Resolves every known name again (blocking: `BackendResolver`'s thread). Returns the names whose
    /// addresses changed and the names that did not resolve (they keep their addresses).
    func refresh() -> (changes: [Change], unresolved: [BackendAddress]) {
        let known = names.withLock { $0 }
        var changes: [Change] = []
        var unresolved: [BackendAddress] = []
        for (backend, old) in known.sorted(by: { $0.key.description < $1.key.description }) {
            guard case .tcp(let host, let port) = backend else { continue }
            let addresses = resolver(host, port)
            guard !addresses.isEmpty else {
                unresolved.append(backend)
                continue
            }
            let new = Self.keepingOrder(of: old, addresses)
            if new != old { changes.append(Change(backend: backend, old: old, new: new)) }
        }
        guard !changes.isEmpty else { return ([], unresolved) }
        names.withLock { names in
            // Only names still listed: a reload may have dropped one while this thread was resolving.
            for change in changes where names[change.backend] != nil { names[change.backend] = change.new }
        }
        generation.add(1, ordering: .releasing)
        return (changes, unresolved)
    }

    /// `fresh`, in `old`'s order when it holds the same addresses: resolvers rotate the order of round-robin
    /// records, which is no change (and must not reset `balance = "first"`).
    private static func keepingOrder(of old: [SocketAddress]?, _ fresh: [SocketAddress]) -> [SocketAddress] {
        guard let old, old.count == fresh.count, fresh.allSatisfy(old.contains) else { return fresh }
        return old
    }
}
