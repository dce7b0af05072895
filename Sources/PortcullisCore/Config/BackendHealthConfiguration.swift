/// How a `[[host]]` spreads connections over its backend addresses and decides which ones to skip: the
/// `balance`, `backend_max_fails`, `backend_fail_timeout` and `health_check_*` keys.
///
/// Two independent signals mark an address down, and a down address is skipped while another one is up:
/// - passive (nginx's `max_fails`/`fail_timeout`): `maxFails` consecutive failed connects of real traffic
///   mark it down for `failTimeout`, in each worker separately; after that real traffic tries it again and
///   one success clears it;
/// - active (HAProxy's `check`), when `check` is set: a TCP (or unix) connect every `interval`, once per
///   process; `fall` consecutive failures mark it down, `rise` consecutive successes up again.
///
/// When every address of the host is down, connections still try them all, in configuration order: a
/// backend that has just come back is then found by the next client instead of after the next check.
public struct BackendHealthConfiguration: Sendable, Equatable {
    /// Which address a new connection tries first.
    public var balance: BalanceMethod
    /// Consecutive failed connects (refused, unreachable, timed out) after which an address is skipped for
    /// `failTimeout`; 0 never skips an address on failures of real traffic.
    public var maxFails: Int
    /// How long an address that reached `maxFails` is skipped before real traffic tries it again.
    public var failTimeout: Duration
    /// Active health checks; nil (the default): none.
    public var check: HealthCheckConfiguration?
    /// The weight of each entry of the host's `backend` list, in its order (`{ address = "...", weight = 3 }`);
    /// empty: every backend weighs 1. `round_robin` sends each backend its share of new connections,
    /// `least_connections` compares open connections per unit of weight, `first` ignores weights.
    public var weights: [Int]

    public init(balance: BalanceMethod = .roundRobin, maxFails: Int = 1, failTimeout: Duration = .seconds(10),
                check: HealthCheckConfiguration? = nil, weights: [Int] = []) {
        self.balance = balance
        self.maxFails = maxFails
        self.failTimeout = failTimeout
        self.check = check
        self.weights = weights
    }

    /// The weight of the `index`-th entry of `backend`.
    public func weight(ofBackendAt index: Int) -> Int {
        index < weights.count ? weights[index] : 1
    }
}

/// The `balance` key of a host.
public enum BalanceMethod: String, Sendable, Equatable, CaseIterable {
    /// Each new connection starts at the address after the one the previous connection used (per worker;
    /// workers start at different offsets). Today's behaviour and the default.
    case roundRobin = "round_robin"
    /// Always the first address that is up, in configuration order: primary and backups (stunnel's
    /// `failover = prio`).
    case first
    /// The address that is up with the fewest open connections from this worker (each worker counts its own
    /// connections only, so there is no shared counter on the connection path); ties go round-robin.
    case leastConnections = "least_connections"
}

/// Active health checks of a host's backend addresses: a non-blocking connect to each address every
/// `interval`; connected in time is a success (with `http`: connected, and an HTTP status from 200 to 399 in
/// time).
public struct HealthCheckConfiguration: Sendable, Equatable {
    /// Time between the starts of two checks of one address (a check still running when the next is due
    /// delays it: checks of one address never overlap).
    public var interval: Duration
    /// How long one check may take to connect; nil: the smaller of the global `connect_timeout` and 2 s.
    public var timeout: Duration?
    /// Consecutive successful checks that bring a down address back.
    public var rise: Int
    /// Consecutive failed checks that take an up address down. At startup (and for an address a reload
    /// adds) the address counts as up until its first check, and that first check alone can take it down, so
    /// a backend that is dead at startup gets no traffic after the first check (HAProxy's default too).
    public var fall: Int
    /// `health_check_http`: after connecting, send this request and expect a 2xx or 3xx status (HAProxy's
    /// `option httpchk`); nil: connecting is enough.
    public var http: HTTPHealthCheck?

    /// The default check timeout cap.
    public static let defaultTimeoutCap: Duration = .seconds(2)

    public init(interval: Duration, timeout: Duration? = nil, rise: Int = 2, fall: Int = 3, http: HTTPHealthCheck? = nil) {
        self.interval = interval
        self.timeout = timeout
        self.rise = rise
        self.fall = fall
        self.http = http
    }

    /// `timeout`, or its default for a proxy whose backend connect timeout is `connectTimeout`.
    public func effectiveTimeout(connectTimeout: Duration) -> Duration {
        timeout ?? min(connectTimeout, Self.defaultTimeoutCap)
    }
}

/// The request of an HTTP health check: `health_check_http = "GET /healthz"` (or just the path, for GET).
public struct HTTPHealthCheck: Sendable, Equatable {
    public var method: String
    public var path: String

    public init(method: String = "GET", path: String) {
        self.method = method
        self.path = path
    }

    /// `METHOD /path` or `/path`; nil for anything else (the method must be upper-case letters, the path must
    /// start with `/` and hold no spaces or control characters).
    public static func parse(_ text: String) -> HTTPHealthCheck? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        let method = parts.count == 2 ? String(parts[0]) : "GET"
        guard let path = parts.last.map(String.init), parts.count <= 2, path.hasPrefix("/"),
              !method.isEmpty, method.utf8.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }),
              path.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F })
        else { return nil }
        return HTTPHealthCheck(method: method, path: path)
    }

    /// The request for a backend reached as `host` (the `Host` header): HTTP/1.0, so the backend closes after
    /// its answer.
    func request(host: String) -> [UInt8] {
        Array("\(method) \(path) HTTP/1.0\r\nHost: \(host)\r\nUser-Agent: portcullis-health-check\r\nConnection: close\r\n\r\n".utf8)
    }
}
