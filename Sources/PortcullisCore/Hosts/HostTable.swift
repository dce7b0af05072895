public import Logging
public import OpenSSLSSL

/// The immutable table the proxy serves from: for each listener the `Context` handshakes start with, and
/// for each host its frozen `Context`, backends and client policy. Built by `compile(_:logger:)` (which reads
/// every certificate, key, CA, CRL and OCSP response from disk again, so a reload picks up renewed files) and never
/// changed afterwards; a reload builds a new table and the runtime swaps it in. `Sendable`, lock-free.
///
/// Host selection: the listener context's ClientHello callback reads the client's SNI name, looks it up
/// (exact, then the one-label wildcard, then the listener's default unless `strict_sni` refuses it) and
/// switches the connection to the host's context, re-applying the host's verify mode, verify depth and
/// options, which `SSL_set_SSL_CTX` does not copy. Selecting in the ClientHello callback (as HAProxy does)
/// rather than the SNI callback matters: it runs before OpenSSL looks up the session to resume and before it
/// negotiates the version, so the host's session-id context and version limits apply to both. An unknown
/// name with `strict_sni` leaves the connection on the listener context, whose SNI callback then aborts the
/// handshake with an `unrecognized_name` alert (`HostSelectionError`).
public final class HostTable: Sendable {
    /// The configuration this table was compiled from.
    public let configuration: ProxyConfiguration
    /// Hosts in configuration order.
    public let hosts: [Host]
    /// Listeners in configuration order.
    public let listeners: [ListenerTLS]
    private let hostsByContext: [ObjectIdentifier: Host]

    package init(configuration: ProxyConfiguration, hosts: [Host], listeners: [ListenerTLS]) {
        self.configuration = configuration
        self.hosts = hosts
        self.listeners = listeners
        var byContext: [ObjectIdentifier: Host] = [:]
        for host in hosts { byContext[ObjectIdentifier(host.context)] = host }
        self.hostsByContext = byContext
    }

    /// Reads `file` and compiles it: what `run` does at startup and on SIGHUP, and what `check` verifies.
    public static func load(file: String, logger: Logger) throws(ConfigurationError) -> HostTable {
        try compile(ConfigurationLoader.load(file: file), logger: logger)
    }

    /// Loads every certificate, key, CA, CRL and OCSP response of `configuration` and builds the contexts. Throws a
    /// `ConfigurationError` listing every host that failed (file, key path, and OpenSSL's reason).
    public static func compile(_ configuration: ProxyConfiguration, logger: Logger) throws(ConfigurationError) -> HostTable {
        var compiler = HostTableCompiler(configuration: configuration, logger: logger)
        return try compiler.compile()
    }

    /// `compile(_:logger:)` judging OCSP responses as of `now` (seconds since the Unix epoch) instead of the
    /// current time.
    static func compile(_ configuration: ProxyConfiguration, logger: Logger, now: Int64) throws(ConfigurationError) -> HostTable {
        var compiler = HostTableCompiler(configuration: configuration, logger: logger, now: now)
        return try compiler.compile()
    }

    /// The host a connection was switched to by SNI selection; nil if the handshake has not reached host
    /// selection (or was refused there). Call it after the handshake (also after a failed one, for the log).
    public func host(for connection: Connection) -> Host? {
        hostsByContext[ObjectIdentifier(connection.getContext())]
    }

    /// The host named `name`.
    public func host(named name: String) -> Host? {
        hosts.first { $0.name == name }
    }

    /// The listener named `name`.
    public func listener(named name: String) -> ListenerTLS? {
        listeners.first { $0.name == name }
    }
}

/// The TLS side of one listener: the context its handshakes start with and its SNI selection rules.
public final class ListenerTLS: Sendable {
    public let configuration: ListenerConfiguration
    /// Start every handshake of this listener with `Connection(context: context, socket: fd)`.
    public let context: Context
    /// The hosts served, by SNI name.
    public let names: ServerNameTable<Host>
    /// Used for clients without SNI, and for unknown names unless `strict_sni`.
    public let defaultHost: Host?

    package init(configuration: ListenerConfiguration, context: Context, names: ServerNameTable<Host>, defaultHost: Host?) {
        self.configuration = configuration
        self.context = context
        self.names = names
        self.defaultHost = defaultHost
    }

    public var name: String { configuration.name }

    /// The host for a client's SNI name (nil: no SNI). Nil when the handshake must be refused.
    public func select(serverName: String?) -> Host? {
        guard let serverName, !serverName.isEmpty else { return defaultHost }
        if let host = names.lookup(serverName) { return host }
        return configuration.strictSNI ? nil : defaultHost
    }

    /// Switches `connection` to `host`'s context and re-applies what OpenSSL does not copy on a switch.
    static func switchConnection(_ connection: Connection, to host: Host) throws {
        try connection.setContext(host.context)
        connection.setVerify(host.verifyMode)
        connection.setVerifyDepth(host.verifyDepth)
        _ = connection.setOptions(host.connectionOptions)
    }
}
