/// One `[[listener]]`: the sockets a set of hosts is served on, and what happens when the client's SNI name
/// matches none of them.
public struct ListenerConfiguration: Sendable, Equatable {
    /// Unique name, used in logs and the access log (`listener=`).
    public var name: String
    /// Addresses to bind (each worker binds each one with SO_REUSEPORT).
    public var addresses: [ListenAddress]
    /// Names (`[[host]] name`) of the hosts served here; every host when the key is absent.
    public var hosts: [String]
    /// The host for clients without SNI or with an unknown name (unless `strictSNI`). Nil when the listener
    /// has none: then such clients are refused with `unrecognized_name`.
    public var defaultHost: String?
    /// Refuse names that match no host with an `unrecognized_name` alert, instead of using the default host.
    /// Clients that send no SNI at all still get the default host.
    public var strictSNI: Bool
    /// `listen(2)` backlog.
    public var backlog: Int
    /// Session resumption. It lives here, not on the host: OpenSSL keeps the session cache and the session
    /// lifetime on the context a handshake starts with (the listener's), whichever host is then selected.
    public var session: SessionConfiguration
    /// Every connection starts with a PROXY protocol header (v1 or v2, told apart by their signatures) from
    /// a load balancer in front; its source address becomes the client's address. Mandatory when on: a
    /// connection without a valid header is closed.
    public var acceptProxy: Bool
    /// The peers allowed to send the PROXY header (the load balancers). Connections from anyone else are
    /// refused before a byte is read. Required (non-empty) when `acceptProxy` is on: there is no default,
    /// because a header from an untrusted peer would let any client choose the address it is logged and
    /// forwarded as.
    public var proxySources: [NetworkPrefix]

    public init(
        name: String,
        addresses: [ListenAddress],
        hosts: [String],
        defaultHost: String?,
        strictSNI: Bool = false,
        backlog: Int = 511,
        session: SessionConfiguration = SessionConfiguration(),
        acceptProxy: Bool = false,
        proxySources: [NetworkPrefix] = []
    ) {
        self.name = name
        self.addresses = addresses
        self.hosts = hosts
        self.defaultHost = defaultHost
        self.strictSNI = strictSNI
        self.backlog = backlog
        self.session = session
        self.acceptProxy = acceptProxy
        self.proxySources = proxySources
    }
}

/// Session resumption settings of a listener (session IDs and tickets).
public struct SessionConfiguration: Sendable, Equatable {
    /// Sessions kept in each worker's cache for resumption by session ID (TLS 1.2); 0 disables the cache.
    public var cacheSize: Int
    /// Lifetime of a session (cache entry or ticket).
    public var timeout: Duration
    /// Issue and accept session tickets (TLS 1.2 tickets and TLS 1.3 resumption PSKs).
    public var tickets: Bool

    public init(cacheSize: Int = 20_480, timeout: Duration = .seconds(300), tickets: Bool = true) {
        self.cacheSize = cacheSize
        self.timeout = timeout
        self.tickets = tickets
    }
}

/// A numeric address and port to listen on: `0.0.0.0:443`, `127.0.0.1:8443`, `[::]:443`, `[::1]:8443`.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case ipv4, ipv6 }

    /// The numeric address, without brackets (`0.0.0.0`, `::`).
    public var host: String
    public var port: UInt16
    public var family: Family

    public init(host: String, port: UInt16, family: Family) {
        self.host = host
        self.port = port
        self.family = family
    }

    /// `host:port`, with brackets around IPv6 addresses.
    public var description: String {
        family == .ipv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Parses `a.b.c.d:port`, `[v6]:port`, `*:port` (all IPv4 addresses) or `localhost:port` (127.0.0.1).
    /// Names are not resolved: a listener binds before anything else happens and must not depend on DNS.
    /// Port 0 is accepted (the kernel picks one; tests use it).
    public static func parse(_ text: String) -> Result<ListenAddress, AddressParseError> {
        guard let colon = text.lastIndex(of: ":") else {
            return .failure(AddressParseError("missing ':port' (expected e.g. 0.0.0.0:443 or [::]:443)"))
        }
        let hostPart = String(text[..<colon])
        let portPart = String(text[text.index(after: colon)...])
        guard let port = UInt16(portPart) else {
            return .failure(AddressParseError("port '\(portPart)' is not a number from 0 to 65535"))
        }
        if hostPart.hasPrefix("[") {
            guard hostPart.hasSuffix("]"), hostPart.count > 2 else {
                return .failure(AddressParseError("unterminated '[' in IPv6 address"))
            }
            let inner = String(hostPart.dropFirst().dropLast())
            guard IPAddressText.isIPv6(inner) else {
                return .failure(AddressParseError("'\(inner)' is not a numeric IPv6 address"))
            }
            return .success(ListenAddress(host: inner, port: port, family: .ipv6))
        }
        switch hostPart {
        case "", "*": return .success(ListenAddress(host: "0.0.0.0", port: port, family: .ipv4))
        case "localhost": return .success(ListenAddress(host: "127.0.0.1", port: port, family: .ipv4))
        default: break
        }
        if IPAddressText.isIPv4(hostPart) {
            return .success(ListenAddress(host: hostPart, port: port, family: .ipv4))
        }
        if IPAddressText.isIPv6(hostPart) {
            return .failure(AddressParseError("IPv6 addresses need brackets: [\(hostPart)]:\(port)"))
        }
        return .failure(AddressParseError("'\(hostPart)' is not a numeric IPv4 address or [IPv6] address (names are not resolved for listeners)"))
    }
}

/// Why an address string was refused.
public struct AddressParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
