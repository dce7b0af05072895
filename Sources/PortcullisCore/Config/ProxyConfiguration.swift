public import Logging

/// The whole proxy configuration, as read from one TOML file: the `[global]` section, the listeners and the
/// hosts. A plain value: loading it reads no certificate. `HostTable.compile(_:)` turns it into the immutable
/// table the runtime serves from (that step loads certificates, keys, CAs and CRLs).
///
/// Relative paths in the file are resolved against the directory of the file, so a configuration behaves the
/// same whatever the working directory of the process is.
public struct ProxyConfiguration: Sendable, Equatable {
    /// The file this configuration was read from (absolute), or nil when it was built in code.
    public var sourceFile: String?
    /// Number of worker threads (each with its own event loop). Default: the number of online cores.
    public var workers: Int
    /// User to switch to after the listening sockets are bound; nil keeps the current user.
    public var user: String?
    /// Group to switch to after binding; nil keeps the current group (or the user's primary group when `user`
    /// is set).
    public var group: String?
    /// Minimum level of the operational log.
    public var logLevel: Logger.Level
    /// Line format of the operational log and the access log.
    public var logFormat: LogFormat
    /// Where the operational log goes.
    public var logDestination: LogDestination
    /// Where the access log (one line per connection) goes; `.off` disables it.
    public var accessLog: LogDestination
    /// Connections accepted at most at once over all workers; beyond it new connections are closed right
    /// after `accept`, without a handshake.
    public var maxConnections: Int
    /// Connections one client (an IPv4 address, an IPv6 /64) may have open at once; beyond it its new
    /// connections are closed right after `accept` (after the PROXY header on `accept_proxy` listeners).
    /// 0: no per-client limit.
    public var maxConnectionsPerClient = 0
    /// Handshake, idle and backend-connect timeouts.
    public var timeouts: Timeouts
    /// How long SIGTERM/SIGINT lets open connections finish before the process exits anyway.
    public var drainTimeout: Duration
    /// Session-ticket key files, the encrypting key first; every key decrypts. Each file holds one 80-byte
    /// key (16-byte name, 32-byte HMAC secret, 32-byte AES key; nginx's format, `openssl rand 80`), raw or
    /// base64. Process-wide because OpenSSL may need the keys of any context a connection switches to.
    /// Empty: OpenSSL's random per-process keys (tickets then resume only on this instance until restart).
    public var ticketKeyFiles: [String] = []
    /// How often backend names are resolved again while running (0: only at startup and at each reload).
    public var backendResolveInterval: Duration = .seconds(30)
    /// Where the Prometheus endpoint (`/metrics`, `/healthz`) listens; nil (the default) serves none.
    public var metricsListen: ListenAddress?
    /// The listening sockets, in file order.
    public var listeners: [ListenerConfiguration]
    /// The virtual hosts, in file order.
    public var hosts: [HostConfiguration]
    /// Where each key is in the source file, so that errors found when certificates are loaded can name the
    /// line too.
    var sourceLocator: SourceLocator?

    public init(
        sourceFile: String? = nil,
        workers: Int = ProxyConfiguration.defaultWorkers,
        user: String? = nil,
        group: String? = nil,
        logLevel: Logger.Level = .info,
        logFormat: LogFormat = .text,
        logDestination: LogDestination = .stderr,
        accessLog: LogDestination = .stdout,
        maxConnections: Int = 10_000,
        timeouts: Timeouts = Timeouts(),
        drainTimeout: Duration = .seconds(30),
        listeners: [ListenerConfiguration] = [],
        hosts: [HostConfiguration] = []
    ) {
        self.sourceFile = sourceFile
        self.workers = workers
        self.user = user
        self.group = group
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.logDestination = logDestination
        self.accessLog = accessLog
        self.maxConnections = maxConnections
        self.timeouts = timeouts
        self.drainTimeout = drainTimeout
        self.listeners = listeners
        self.hosts = hosts
    }

    /// The number of online cores (at least 1): the default for `workers`.
    public static var defaultWorkers: Int { max(1, SystemInfo.onlineCores) }

    /// The host named `name` (the `[[host]] name` key), if any.
    public func host(named name: String) -> HostConfiguration? {
        hosts.first { $0.name == name }
    }
}

/// The per-connection timers every worker runs.
public struct Timeouts: Sendable, Equatable {
    /// From accept to a completed TLS handshake (and policy check).
    public var handshake: Duration
    /// No byte moved in either direction for this long closes the connection.
    public var idle: Duration
    /// Connecting to one backend; after it the next backend is tried.
    public var backendConnect: Duration

    public init(handshake: Duration = .seconds(10), idle: Duration = .seconds(300), backendConnect: Duration = .seconds(5)) {
        self.handshake = handshake
        self.idle = idle
        self.backendConnect = backendConnect
    }
}

/// Line format for the operational and access logs.
public enum LogFormat: String, Sendable, Equatable, CaseIterable {
    /// `2025-01-01T00:00:00.000Z info message key=value ...`
    case text
    /// One JSON object per line.
    case json
}

/// Where a log goes.
public enum LogDestination: Sendable, Equatable, CustomStringConvertible {
    case stdout
    case stderr
    /// Appended to this file (created with mode 0640 when missing; reopened at the same path on every reload,
    /// for log rotation).
    case file(String)
    /// Discarded.
    case off

    public var description: String {
        switch self {
        case .stdout: return "stdout"
        case .stderr: return "stderr"
        case .file(let path): return path
        case .off: return "off"
        }
    }
}
