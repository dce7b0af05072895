public import OpenSSLSSL

/// What the runtime needs from a compiled, immutable routing table (`HostTable` conforms): the context each
/// listener's handshakes start with, and after the handshake the host SNI selection chose.
///
/// Implementations are immutable and shared by every worker without locks. A worker keeps the table it got
/// at startup or from the last reload; each connection keeps the table it started with until it closes.
public protocol ConnectionRouter: AnyObject, Sendable {
    /// The context to start a handshake on listener `listener` with (its SNI/ClientHello callback switches to
    /// the host's context), or nil when the table does not serve that listener.
    func handshakeContext(forListener listener: String) -> Context?
    /// The host chosen for `connection` during its handshake, or nil if none was chosen.
    func routedHost(for connection: Connection) -> (any RoutedHost)?
}

/// A host as the runtime sees it: where to connect, what header to send, and who may pass.
public protocol RoutedHost: AnyObject, Sendable {
    /// The host's name, for the access log.
    var name: String { get }
    /// Backends in configuration order: tried in the order `backendHealth.balance` chooses, with failover to
    /// the next on a failed connect.
    var backends: [BackendAddress] { get }
    /// Balancing and health settings for `backends` (default: round-robin, passive health with defaults).
    var backendHealth: BackendHealthConfiguration { get }
    /// The PROXY protocol header to send before any client byte.
    var proxyProtocol: ProxyProtocolVersion { get }
    /// The client-certificate policy, applied after every completed handshake (full or resumed).
    func admits(_ connection: Connection) -> PolicyDecision
    /// `admits(_:)` with the allow-list entry that matched and whether a refusal was an allow-list miss.
    func admission(_ connection: Connection) -> Admission
    /// Where allow-list misses go instead of being closed (`client_refused_backend`), as a route whose
    /// `backends` the runtime connects to; nil: they are closed.
    var refusedClientRoute: (any RoutedHost)? { get }
    /// Put the verified client certificate into the PROXY v2 header (`proxy_client_certificate`).
    var proxyClientCertificate: Bool { get }
}

extension RoutedHost {
    public func admission(_ connection: Connection) -> Admission { Admission(admits(connection)) }
    public var refusedClientRoute: (any RoutedHost)? { nil }
    public var proxyClientCertificate: Bool { false }
}

extension RoutedHost {
    public var backendHealth: BackendHealthConfiguration { BackendHealthConfiguration() }
}
