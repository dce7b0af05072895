public import OpenSSLSSL

/// A compiled virtual host: its frozen TLS `Context`, its backends and its client-certificate policy.
///
/// Immutable and `Sendable`: every worker reads the same `Host` without locks. The runtime gets it with
/// `HostTable.host(for:)` after the handshake, calls `admits(_:)`, then connects to `backends`.
public final class Host: Sendable {
    /// The `[[host]] name`.
    public let name: String
    /// The SNI names this host answers to (normalized).
    public let serverNames: [String]
    /// Backends in configuration order; the runtime does round-robin and failover over them.
    public let backends: [BackendAddress]
    /// PROXY protocol header to send to the backend.
    public let proxyProtocol: ProxyProtocolVersion
    /// The client-certificate policy `admits(_:)` applies.
    public let policy: ClientPolicy
    /// The frozen context the SNI callback switches a connection to.
    public let context: Context
    /// The configuration this host was compiled from.
    public let configuration: HostConfiguration
    /// Per-connection settings OpenSSL does not copy on `SSL_set_SSL_CTX`; the SNI callback re-applies them.
    package let verifyMode: Int32
    package let verifyDepth: Int32
    package let connectionOptions: UInt64
    /// The 32-byte session-id context of this host (hash of its name and policy).
    public let sessionIDContext: [UInt8]
    /// The OCSP responses its context staples, one per certificate that has an `ocsp_response_file`.
    package let ocspStaples: [OCSPStaple]
    /// `proxy_client_certificate`: the PROXY v2 header carries the verified client certificate.
    public let proxyClientCertificate: Bool
    /// `client_refused_backend` as a route of its own (nil when unset): the runtime connects clients the
    /// allow-list refused through it, with the worker's usual candidate cache and round-robin keyed by this
    /// object instead of the host.
    public let refusedClientRoute: (any RoutedHost)?

    package init(
        configuration: HostConfiguration,
        policy: ClientPolicy,
        context: Context,
        verifyMode: Int32,
        verifyDepth: Int32,
        connectionOptions: UInt64,
        sessionIDContext: [UInt8],
        ocspStaples: [OCSPStaple] = []
    ) {
        self.name = configuration.name
        self.serverNames = configuration.serverNames
        self.backends = configuration.backends
        self.proxyProtocol = configuration.proxyProtocol
        self.policy = policy
        self.context = context
        self.configuration = configuration
        self.verifyMode = verifyMode
        self.verifyDepth = verifyDepth
        self.connectionOptions = connectionOptions
        self.sessionIDContext = sessionIDContext
        self.ocspStaples = ocspStaples
        self.proxyClientCertificate = configuration.proxyClientCertificate
        self.refusedClientRoute = configuration.refusedBackend.map {
            RefusedClientRoute(name: configuration.name, backend: $0, proxyProtocol: configuration.proxyProtocol)
        }
    }
}

/// The route of `client_refused_backend`: the host's name (the access log keeps `host=`), the one refused
/// backend, the host's PROXY header. Only ever used for clients already refused, so it admits everyone.
final class RefusedClientRoute: RoutedHost {
    let name: String
    let backends: [BackendAddress]
    let proxyProtocol: ProxyProtocolVersion

    init(name: String, backend: BackendAddress, proxyProtocol: ProxyProtocolVersion) {
        self.name = name
        self.backends = [backend]
        self.proxyProtocol = proxyProtocol
    }

    func admits(_ connection: Connection) -> PolicyDecision { .allow }
}

/// The outcome of `Host.admits(_:)`.
public enum PolicyDecision: Sendable, Equatable, CustomStringConvertible {
    /// Proceed to the backend.
    case allow
    /// Close the connection without contacting a backend; the reason goes to the access log.
    case deny(String)

    public var description: String {
        switch self {
        case .allow: return "allow"
        case .deny(let reason): return "deny: \(reason)"
        }
    }

    public var isAllowed: Bool { self == .allow }
}

/// Why the SNI callback refused a handshake. It is thrown from the callback, so OpenSSL aborts the handshake
/// with an `unrecognized_name` alert, and the runtime receives it as `TLSIOResult.failed(error)` to log.
public enum HostSelectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The client's name (nil: no SNI) matches no host of the listener and there is no usable default.
    case unrecognizedName(String?, listener: String)

    public var description: String {
        switch self {
        case .unrecognizedName(let name?, let listener):
            return "unrecognized SNI name '\(name)' on listener \(listener)"
        case .unrecognizedName(nil, let listener):
            return "client sent no SNI name and listener \(listener) has no default host"
        }
    }
}
