internal import Glibc
public import Logging

/// The file descriptors `portcullis run` needs, and raising `RLIMIT_NOFILE`'s soft limit to match.
///
/// Each proxied connection holds two descriptors (client and backend), so the common soft limit of 1024
/// would cap a default `max_connections = 10000` at about 500 connections, with every further `accept`
/// failing with EMFILE. Like HAProxy (which sizes its own limit from `maxconn`), the proxy raises the soft
/// limit itself, up to the hard limit an unprivileged process may use; only the hard limit
/// (`LimitNOFILE=`, `ulimit -Hn`) is the operator's to set, and a warning says when it is too low.
public enum DescriptorLimit {
    /// Descriptors for `configuration`: two per connection, plus per worker its epoll, eventfd, reserve
    /// descriptor and one listening socket per listen address, plus a margin for the control thread, the
    /// metrics endpoint, log files and the files a reload reads.
    public static func needed(for configuration: ProxyConfiguration) -> UInt64 {
        let addresses = configuration.listeners.reduce(0) { $0 + $1.addresses.count }
        let perWorker = 3 + addresses
        return 2 * UInt64(max(1, configuration.maxConnections)) + UInt64(max(1, configuration.workers) * perWorker) + 64
    }

    /// What `raise` found and did.
    public enum Outcome: Equatable, Sendable {
        /// The soft limit already covered `needed`.
        case sufficient(soft: UInt64)
        /// The soft limit was raised from `from` to `to` (= `needed`).
        case raised(from: UInt64, to: UInt64)
        /// The hard limit is below `needed`: the soft limit was raised to `hard`, which is not enough.
        case insufficient(needed: UInt64, soft: UInt64, hard: UInt64)
        /// `getrlimit`/`setrlimit` failed (errno).
        case failed(code: Int32)
    }

    /// Raises the soft `RLIMIT_NOFILE` to `needed` (or as far as the hard limit allows) and logs what it did:
    /// info when it raised the limit, a warning naming `max_connections` and `LimitNOFILE` when the hard
    /// limit is too low. Never lowers a limit.
    @discardableResult
    public static func raise(for configuration: ProxyConfiguration, logger: Logger) -> Outcome {
        let outcome = raise(to: needed(for: configuration))
        switch outcome {
        case .sufficient:
            break
        case .raised(let from, let to):
            logger.info("raised the open-file limit from \(from) to \(to) for max_connections \(configuration.maxConnections)")
        case .insufficient(let needed, _, let hard):
            let connections = hard > 64 ? (hard - 64) / 2 : 0
            logger.warning("""
                max_connections \(configuration.maxConnections) needs about \(needed) open files, but the hard limit is \(hard): \
                about \(connections) connections fit, later ones are refused; raise LimitNOFILE= (systemd) or ulimit -Hn, \
                or lower max_connections
                """)
        case .failed(let code):
            logger.warning("cannot read or raise the open-file limit: \(String(cString: strerror(code)))")
        }
        return outcome
    }

    /// Raises the soft limit to `needed`, capped by the hard limit.
    public static func raise(to needed: UInt64) -> Outcome {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return .failed(code: errno) }
        let soft = UInt64(limit.rlim_cur)
        let hard = UInt64(limit.rlim_max)
        if soft >= needed { return .sufficient(soft: soft) }
        let target = min(needed, hard)
        if target > soft {
            limit.rlim_cur = rlim_t(target)
            guard setrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return .failed(code: errno) }
        }
        return target >= needed ? .raised(from: soft, to: target) : .insufficient(needed: needed, soft: target, hard: hard)
    }

    /// Glibc imports `RLIMIT_NOFILE` as an enum case of `__rlimit_resource`; the functions take its raw value.
    private static let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
}
