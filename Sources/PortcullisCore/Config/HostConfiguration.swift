/// One `[[host]]`: a virtual host selected by SNI, with its certificates, TLS settings, client-certificate
/// policy and backends.
public struct HostConfiguration: Sendable, Equatable {
    /// Unique identifier, used by `default_host`, `hosts` lists and the access log (`host=`).
    public var name: String
    /// SNI names served: exact names (`www.example.com`) and one-label wildcards (`*.example.com`). Stored
    /// lower-case without a trailing dot.
    public var serverNames: [String]
    /// Server certificates. Several are allowed (typically one RSA and one ECDSA); OpenSSL keeps one per key
    /// type and picks by what the client supports.
    public var certificates: [CertificateConfiguration]
    /// Backends, tried in the order `backendHealth.balance` chooses; a failed connect moves on to the next one.
    public var backends: [BackendAddress]
    /// Balancing, and when a backend address counts as down (passive and active health checks).
    public var backendHealth = BackendHealthConfiguration()
    /// PROXY protocol header sent to the backend before any client byte.
    public var proxyProtocol: ProxyProtocolVersion
    /// With `proxyProtocol == .v2`: add the verified client certificate (the leaf, DER) to the header as
    /// sub-TLV `PP2_SUBTYPE_SSL_CLIENT_CERT` (0x28) of `PP2_TYPE_SSL`, as ghostunnel's `tls-full` mode does.
    public var proxyClientCertificate: Bool = false
    /// Where clients go whose certificate verified but matched no allow-list entry (stunnel's `redirect`),
    /// instead of being closed; nil: they are closed.
    public var refusedBackend: BackendAddress?
    /// Protocol versions, ciphers, groups, ALPN and tickets.
    public var tls: TLSSettings
    /// Client-certificate verification and allow-list.
    public var client: ClientPolicyConfiguration
    /// First-run convenience: when the (single) certificate and key files are both missing, generate a
    /// self-signed development certificate there. Off by default so a mistyped path never silently serves a
    /// self-signed certificate.
    public var selfSignedIfMissing: Bool = false
    /// True when `certificates[0]` comes from the host-level `certificate` key rather than a `certificates`
    /// element (set by the loader), so errors name the key the operator wrote.
    var inlineCertificate = false

    public init(
        name: String,
        serverNames: [String] = [],
        certificates: [CertificateConfiguration],
        backends: [BackendAddress],
        proxyProtocol: ProxyProtocolVersion = .off,
        tls: TLSSettings = TLSSettings(),
        client: ClientPolicyConfiguration = ClientPolicyConfiguration()
    ) {
        self.name = name
        self.serverNames = serverNames
        self.certificates = certificates
        self.backends = backends
        self.proxyProtocol = proxyProtocol
        self.tls = tls
        self.client = client
    }
}

/// A certificate chain and its private key.
public struct CertificateConfiguration: Sendable, Equatable {
    /// PEM file: the leaf certificate first, then the intermediates.
    public var chainFile: String
    /// PEM private key file; the chain file itself when the key is bundled with it.
    public var keyFile: String
    /// Where the passphrase of an encrypted key comes from; nil for an unencrypted key.
    public var passphrase: PassphraseSource?
    /// DER OCSP response for the chain's leaf (`openssl ocsp -respout`), stapled to clients that ask for
    /// certificate status; nil: no stapling for this certificate. Read again at every reload.
    public var ocspResponseFile: String?

    public init(chainFile: String, keyFile: String? = nil, passphrase: PassphraseSource? = nil, ocspResponseFile: String? = nil) {
        self.chainFile = chainFile
        self.keyFile = keyFile ?? chainFile
        self.passphrase = passphrase
        self.ocspResponseFile = ocspResponseFile
    }
}

/// The source of a private key passphrase. The proxy never prompts on a terminal.
public enum PassphraseSource: Sendable, Equatable, CustomStringConvertible {
    /// The first line of this file (a trailing newline is not part of the passphrase).
    case file(String)
    /// The value of this environment variable.
    case environment(String)

    public var description: String {
        switch self {
        case .file(let path): return "file \(path)"
        case .environment(let name): return "environment variable \(name)"
        }
    }
}

/// A backend: a TCP `host:port` (a name is resolved when the configuration is compiled) or a unix socket.
public enum BackendAddress: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case unix(path: String)

    public var description: String {
        switch self {
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): return "unix:\(path)"
        }
    }

    /// Parses `host:port`, `[v6]:port`, `unix:/path` or an absolute path `/path`.
    public static func parse(_ text: String) -> Result<BackendAddress, AddressParseError> {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { return .failure(AddressParseError("empty unix socket path")) }
            return .success(.unix(path: path))
        }
        if text.hasPrefix("/") { return .success(.unix(path: text)) }
        guard let colon = text.lastIndex(of: ":") else {
            return .failure(AddressParseError("expected host:port, [ipv6]:port, unix:/path or /path"))
        }
        var host = String(text[..<colon])
        let portText = String(text[text.index(after: colon)...])
        guard let port = UInt16(portText), port != 0 else {
            return .failure(AddressParseError("port '\(portText)' is not a number from 1 to 65535"))
        }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]") else { return .failure(AddressParseError("unterminated '[' in IPv6 address")) }
            host = String(host.dropFirst().dropLast())
            guard IPAddressText.isIPv6(host) else {
                return .failure(AddressParseError("'\(host)' is not a numeric IPv6 address"))
            }
        } else if host.contains(":") {
            return .failure(AddressParseError("IPv6 addresses need brackets: [\(host)]:\(port)"))
        }
        guard !host.isEmpty else { return .failure(AddressParseError("missing host before ':\(port)'")) }
        return .success(.tcp(host: host, port: port))
    }
}

/// PROXY protocol header sent to a backend.
public enum ProxyProtocolVersion: String, Sendable, Equatable, CaseIterable {
    case off
    /// Text header: `PROXY TCP4 client server cport sport\r\n`.
    case v1
    /// Binary header with TLVs: ALPN, authority (SNI), SSL (version, cipher, verified client subject).
    case v2
}

/// A TLS protocol version, with OpenSSL's raw value (`TLS1_2_VERSION` = 0x303).
public enum TLSVersion: Int32, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case tls1_0 = 0x301
    case tls1_1 = 0x302
    case tls1_2 = 0x303
    case tls1_3 = 0x304

    /// OpenSSL's spelling, as in the config file: `TLSv1.2`.
    public var description: String {
        switch self {
        case .tls1_0: return "TLSv1"
        case .tls1_1: return "TLSv1.1"
        case .tls1_2: return "TLSv1.2"
        case .tls1_3: return "TLSv1.3"
        }
    }

    /// Accepts `TLSv1.2`, `TLSv1_2`, `tls1.2` and `1.2` (any case); `TLSv1`/`1.0` for TLS 1.0.
    public init?(configText: String) {
        var text = String(configText.lowercased().map { $0 == "_" ? "." : $0 })
        if text.hasPrefix("tlsv") { text.removeFirst(4) } else if text.hasPrefix("tls") { text.removeFirst(3) }
        switch text {
        case "1", "1.0": self = .tls1_0
        case "1.1": self = .tls1_1
        case "1.2": self = .tls1_2
        case "1.3": self = .tls1_3
        default: return nil
        }
    }

    public static func < (lhs: TLSVersion, rhs: TLSVersion) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Per-host protocol settings.
public struct TLSSettings: Sendable, Equatable {
    public var minVersion: TLSVersion
    /// Nil: the highest version OpenSSL supports.
    public var maxVersion: TLSVersion?
    /// OpenSSL cipher string for TLS 1.2 and below.
    public var ciphers: String
    /// TLS 1.3 cipher suites, colon separated.
    public var ciphersuites: String
    /// Key-exchange groups, colon separated; nil keeps OpenSSL's default list.
    public var groups: String?
    /// ALPN protocols in server preference order; empty disables ALPN (the client's offer is ignored).
    public var alpn: [String]
    /// Issue tickets on this host (`false` sets `SSL_OP_NO_TICKET` on its connections).
    public var sessionTickets: Bool

    /// ECDHE with AEAD ciphers only (Mozilla "intermediate" minus DHE, which needs DH parameters).
    public static let defaultCiphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
    /// OpenSSL 3.0's own default.
    public static let defaultCiphersuites = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"

    public init(
        minVersion: TLSVersion = .tls1_2,
        maxVersion: TLSVersion? = nil,
        ciphers: String = TLSSettings.defaultCiphers,
        ciphersuites: String = TLSSettings.defaultCiphersuites,
        groups: String? = nil,
        alpn: [String] = [],
        sessionTickets: Bool = true
    ) {
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.ciphers = ciphers
        self.ciphersuites = ciphersuites
        self.groups = groups
        self.alpn = alpn
        self.sessionTickets = sessionTickets
    }
}

/// Whether and how a host asks for a client certificate.
public enum ClientVerifyMode: String, Sendable, Equatable, CaseIterable {
    /// No CertificateRequest.
    case none
    /// Asked for; a client without one is let through, a client with an invalid one is refused.
    case optional
    /// A valid client certificate is required (and must pass the allow-list when one is set).
    case require
}

/// Client-certificate verification settings of a host.
public struct ClientPolicyConfiguration: Sendable, Equatable {
    public var verify: ClientVerifyMode
    /// PEM file of trusted CAs for client certificates.
    public var caFile: String?
    /// Directory of hashed CA certificates (`openssl rehash`).
    public var caDirectory: String?
    /// PEM CRL file; when set, every client chain is checked against it (CRL_CHECK on the leaf).
    public var crlFile: String?
    /// Maximum number of intermediate certificates between the client certificate and a trusted CA.
    public var verifyDepth: Int
    /// Allow-list: the verified client certificate passes when ANY listed value matches. All empty: any
    /// certificate that verifies is allowed.
    public var allowCommonNames: [String]
    public var allowDNSNames: [String]
    public var allowURIs: [String]
    public var allowOrganizationalUnits: [String]
    /// subjectAltName rfc822Name (or, without any, subject emailAddress) values: local part exact, domain
    /// case-insensitive.
    public var allowEmails: [String]
    /// subjectAltName iPAddress values: addresses or CIDR networks, compared as binary addresses.
    public var allowIPs: [NetworkPrefix]
    /// SHA-256 pins of the SubjectPublicKeyInfo, standard base64 with padding.
    public var allowPublicKeyPins: [String]

    public init(
        verify: ClientVerifyMode = .none,
        caFile: String? = nil,
        caDirectory: String? = nil,
        crlFile: String? = nil,
        verifyDepth: Int = 9,
        allowCommonNames: [String] = [],
        allowDNSNames: [String] = [],
        allowURIs: [String] = [],
        allowOrganizationalUnits: [String] = [],
        allowEmails: [String] = [],
        allowIPs: [NetworkPrefix] = [],
        allowPublicKeyPins: [String] = []
    ) {
        self.verify = verify
        self.caFile = caFile
        self.caDirectory = caDirectory
        self.crlFile = crlFile
        self.verifyDepth = verifyDepth
        self.allowCommonNames = allowCommonNames
        self.allowDNSNames = allowDNSNames
        self.allowURIs = allowURIs
        self.allowOrganizationalUnits = allowOrganizationalUnits
        self.allowEmails = allowEmails
        self.allowIPs = allowIPs
        self.allowPublicKeyPins = allowPublicKeyPins
    }

    /// True when some allow-list entry is set.
    public var hasAllowList: Bool {
        !(allowCommonNames.isEmpty && allowDNSNames.isEmpty && allowURIs.isEmpty && allowOrganizationalUnits.isEmpty
          && allowEmails.isEmpty && allowIPs.isEmpty && allowPublicKeyPins.isEmpty)
    }
}
