/// The active health of every checked backend address of one table: built on the control thread when the
/// server starts and at each reload (with the addresses backend names resolve to then), immutable afterwards.
/// Workers look their addresses up in it once per host (when they build the host's `BackendSelector`); the
/// checker thread writes its verdicts into the `BackendHealthState`s; the metrics scrape reads them.
final class BackendHealthBoard: Sendable {
    /// One checked host: its settings in nanoseconds and its addresses.
    struct CheckedHost: Sendable {
        let name: String
        let interval: UInt64
        let timeout: UInt64
        let rise: Int
        let fall: Int
        /// The request of an HTTP check; nil: connecting is the check.
        let http: HTTPHealthCheck?
        let targets: [BackendHealthState]
    }

    let hosts: [CheckedHost]
    private let targetsByHost: [String: [BackendHealthState]]

    /// The checks of `hosts` (only those with `health_check_interval`). States of `previous` are kept for
    /// every (host, label, address) that is still checked, so their verdicts and counters carry over.
    /// `addresses` gives a backend's addresses (the address book's, on the control thread).
    init(hosts: [(name: String, backends: [BackendAddress], health: BackendHealthConfiguration)], connectTimeout: Duration,
         previous: BackendHealthBoard? = nil,
         addresses: (BackendAddress) -> [SocketAddress] = { BackendAddressBook().addresses(of: $0) }) {
        var checked: [CheckedHost] = []
        var byHost: [String: [BackendHealthState]] = [:]
        for host in hosts {
            guard let check = host.health.check else { continue }
            let old = previous?.targetsByHost[host.name] ?? []
            var targets: [BackendHealthState] = []
            for backend in host.backends {
                let addresses = addresses(backend)
                for address in addresses {
                    let label = addresses.count == 1 ? backend.description : "\(backend.description) (\(address))"
                    if targets.contains(where: { $0.address == address }) { continue }
                    targets.append(old.first { $0.label == label && $0.address == address }
                                   ?? BackendHealthState(host: host.name, label: label, address: address))
                }
            }
            checked.append(CheckedHost(
                name: host.name, interval: max(1, check.interval.clampedNanoseconds),
                timeout: max(1, check.effectiveTimeout(connectTimeout: connectTimeout).clampedNanoseconds),
                rise: check.rise, fall: check.fall, http: check.http, targets: targets))
            byHost[host.name] = targets
        }
        self.hosts = checked
        self.targetsByHost = byHost
    }

    /// The board for the hosts of `router` when it is a compiled `HostTable` (other routers have no checks).
    convenience init(router: any ConnectionRouter, connectTimeout: Duration, previous: BackendHealthBoard?,
                     addressBook: BackendAddressBook) {
        let hosts = (router as? HostTable)?.hosts.map { (name: $0.name, backends: $0.backends, health: $0.backendHealth) } ?? []
        self.init(hosts: hosts, connectTimeout: connectTimeout, previous: previous, addresses: addressBook.addresses(of:))
    }

    /// True when no host has active checks.
    var isEmpty: Bool { hosts.isEmpty }

    /// Every checked address.
    var allTargets: [BackendHealthState] { hosts.flatMap(\.targets) }

    /// The checked addresses of host `name` (empty: the host has no active checks).
    func targets(forHost name: String) -> [BackendHealthState] {
        targetsByHost[name] ?? []
    }
}
