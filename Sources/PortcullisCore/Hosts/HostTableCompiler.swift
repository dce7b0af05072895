import FoundationEssentials
internal import Glibc
import Logging
import OpenSSLCrypto
import OpenSSLSSL

/// Builds a `HostTable` from a configuration: one frozen `Context` per host and one per listener.
struct HostTableCompiler {
    let configuration: ProxyConfiguration
    let logger: Logger
    /// Seconds since the Unix epoch at which OCSP responses are judged (expired, not yet valid).
    let now: Int64
    private var diagnostics: [ConfigurationDiagnostic] = []
    /// Shared by every context: the ticket callback of the listener context reads the keys of whichever
    /// context the connection uses by then.
    private var ticketKeys: TicketKeys?

    init(configuration: ProxyConfiguration, logger: Logger, now: Int64 = Int64(time(nil))) {
        self.configuration = configuration
        self.logger = logger
        self.now = now
    }

    /// Options every context gets: no TLS compression (CRIME), no renegotiation (client-initiated
    /// renegotiation is a DoS lever and TLS 1.3 has none), and the server's cipher order.
    static let baseOptions: UInt64 = SSL.OP_NO_COMPRESSION | SSL.OP_NO_RENEGOTIATION | SSL.OP_CIPHER_SERVER_PREFERENCE

    private var file: String { configuration.sourceFile ?? "<configuration>" }

    private mutating func report(_ keyPath: String, _ message: String) {
        diagnostics.append(ConfigurationDiagnostic(
            file: file, line: configuration.sourceLocator?.line(of: keyPath), keyPath: keyPath, message: message))
    }

    mutating func compile() throws(ConfigurationError) -> HostTable {
        if !configuration.ticketKeyFiles.isEmpty {
            do {
                ticketKeys = try TicketKeyFiles.load(configuration.ticketKeyFiles)
            } catch {
                report("global.ticket_key_files", "\(error)")
            }
        }
        var hosts: [Host] = []
        for (index, hostConfiguration) in configuration.hosts.enumerated() {
            if let host = compileHost(hostConfiguration, index: index) { hosts.append(host) }
        }
        var listeners: [ListenerTLS] = []
        if diagnostics.isEmpty {
            for (index, listenerConfiguration) in configuration.listeners.enumerated() {
                if let listener = compileListener(listenerConfiguration, index: index, hosts: hosts) { listeners.append(listener) }
            }
        }
        guard diagnostics.isEmpty else { throw ConfigurationError(diagnostics) }
        return HostTable(configuration: configuration, hosts: hosts, listeners: listeners)
    }

    // MARK: Hosts

    /// Connection options re-applied after the switch: the base options, the host's ticket setting and its
    /// version limits as `OP_NO_TLSv1_x` (the only per-connection form of min/max version OpenSSL offers;
    /// set before version negotiation because selection happens in the ClientHello callback).
    static func connectionOptions(for tls: TLSSettings) -> UInt64 {
        var options = baseOptions
        if !tls.sessionTickets { options |= SSL.OP_NO_TICKET }
        let disable: [(TLSVersion, UInt64)] = [
            (.tls1_0, SSL.OP_NO_TLSv1), (.tls1_1, SSL.OP_NO_TLSv1_1), (.tls1_2, SSL.OP_NO_TLSv1_2), (.tls1_3, SSL.OP_NO_TLSv1_3),
        ]
        for (version, option) in disable where version < tls.minVersion || (tls.maxVersion.map { version > $0 } ?? false) {
            options |= option
        }
        return options
    }

    /// The verify mode for a client policy.
    static func verifyMode(_ verify: ClientVerifyMode) -> Int32 {
        switch verify {
        case .none: return SSL.VERIFY_NONE
        case .optional: return SSL.VERIFY_PEER
        case .require: return SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT
        }
    }

    /// 32 bytes (OpenSSL's maximum, a SHA-256) derived from the host name and everything that decides which
    /// clients the host accepts: a session made on one host never resumes on another host, nor on this host
    /// after its policy changed. `trustDigest` (the CA file's and CA directory's contents) and `crlDigest`
    /// (the CRL file's contents) make a changed CA set or a new CRL end resumption of older sessions, so
    /// every client is checked against them by a full handshake. Equal across instances with the same
    /// configuration and files, so shared ticket keys work.
    static func sessionIDContext(for host: HostConfiguration, trustDigest: [UInt8]? = nil, crlDigest: [UInt8]? = nil) throws -> [UInt8] {
        var policy = ClientPolicy(host.client).fingerprintText(
            caFile: host.client.caFile, caDirectory: host.client.caDirectory, crlFile: host.client.crlFile,
            depth: host.client.verifyDepth)
        if let trustDigest { policy += "\nca-sha256=" + trustDigest.map { String(format: "%02x", $0) }.joined() }
        if let crlDigest { policy += "\ncrl-sha256=" + crlDigest.map { String(format: "%02x", $0) }.joined() }
        return try Crypto.digest("sha256", Array("portcullis host\n\(host.name)\n\(policy)".utf8))
    }

    private mutating func compileHost(_ host: HostConfiguration, index: Int) -> Host? {
        let path = "host[\(index)]"
        let before = diagnostics.count
        let context: Context
        do {
            context = try Context(method: .tlsServer)
        } catch {
            report(path, "cannot create a TLS context: \(error)")
            return nil
        }
        let verifyMode = Self.verifyMode(host.client.verify)
        let depth = Int32(host.client.verifyDepth)
        attempt("\(path).min_version") { _ = try context.setMinProtoVersion(host.tls.minVersion.rawValue) }
        attempt("\(path).max_version") { _ = try context.setMaxProtoVersion(host.tls.maxVersion?.rawValue ?? 0) }
        attempt(path) { _ = try context.setOptions(Self.connectionOptions(for: host.tls)) }
        attempt(path) { _ = try context.setMode(SSL.MODE_RELEASE_BUFFERS) }
        attempt("\(path).ciphers", prefix: "no usable cipher in \"\(host.tls.ciphers)\"") { try context.setCipherList(host.tls.ciphers) }
        attempt("\(path).ciphersuites", prefix: "no usable TLS 1.3 suite in \"\(host.tls.ciphersuites)\"") {
            try context.setTLS13Ciphersuites(host.tls.ciphersuites)
        }
        if let groups = host.tls.groups {
            attempt("\(path).groups", prefix: "unknown group in \"\(groups)\"") { try context.setGroupsList(groups) }
        }
        let staples = loadCertificates(host, path: path, into: context)
        if !staples.isEmpty {
            let stapler = OCSPStapler(staples)
            attempt(path) { try context.setOCSPServerCallback(stapler.callback) }
        }
        var crlDigest: [UInt8]?
        var trustDigest: [UInt8]?
        if host.client.verify != .none {
            attempt("\(path).client_ca_file", prefix: "cannot load client CAs") {
                try context.loadVerifyLocations(caFile: host.client.caFile, caPath: host.client.caDirectory)
                trustDigest = try CredentialLoader.trustAnchorsDigest(caFile: host.client.caFile, caDirectory: host.client.caDirectory)
            }
            if let caFile = host.client.caFile {
                // The CA names sent in CertificateRequest help clients pick a certificate.
                attempt("\(path).client_ca_file", prefix: "cannot read CA names from \(caFile)") { try context.loadClientCA(caFile) }
            }
            if let crlFile = host.client.crlFile {
                crlDigest = loadCRLs(crlFile, path: "\(path).client_crl_file", into: context)
            }
            attempt(path) { try context.setVerify(verifyMode) }
            attempt("\(path).client_verify_depth") { try context.setVerifyDepth(depth) }
        }
        if let ticketKeys {
            attempt("global.ticket_key_files") { try context.setTicketKeys(ticketKeys) }
        }
        var sessionIDContext: [UInt8] = []
        attempt(path) {
            sessionIDContext = try Self.sessionIDContext(for: host, trustDigest: trustDigest, crlDigest: crlDigest)
            try context.setSessionId(sessionIDContext)
        }
        if !host.tls.alpn.isEmpty {
            let preference = host.tls.alpn.map { Array($0.utf8) }
            attempt("\(path).alpn") {
                try context.setALPNSelectCallback { _, offered in
                    // Server preference: the first of our protocols the client offered.
                    for candidate in preference where offered.contains(candidate) { return .select(candidate) }
                    return .noOverlap
                }
            }
        }
        guard diagnostics.count == before else { return nil }
        return Host(
            configuration: host, policy: ClientPolicy(host.client), context: context, verifyMode: verifyMode,
            verifyDepth: depth, connectionOptions: Self.connectionOptions(for: host.tls), sessionIDContext: sessionIDContext,
            ocspStaples: staples)
    }

    private mutating func attempt(_ keyPath: String, prefix: String? = nil, _ body: () throws -> Void) {
        do {
            try body()
        } catch {
            report(keyPath, prefix.map { "\($0): \(error)" } ?? "\(error)")
        }
    }

    /// Installs every certificate of `host` in `context`; returns the OCSP responses of those that have one.
    private mutating func loadCertificates(_ host: HostConfiguration, path: String, into context: Context) -> [OCSPStaple] {
        var keyTypes: [Int32: String] = [:]
        var staples: [OCSPStaple] = []
        for (offset, certificate) in host.certificates.enumerated() {
            // The host-level `certificate` comes first in `certificates`; list elements follow it.
            let inline = host.inlineCertificate && offset == 0
            let certificatePath = inline ? "\(path).certificate" : "\(path).certificates[\(offset - (host.inlineCertificate ? 1 : 0))]"
            let key: PKey
            do {
                key = try CredentialLoader.loadKey(certificate, logger: logger)
            } catch {
                report(certificatePath, "\(error)")
                continue
            }
            let keyType = key.type()
            if let earlier = keyTypes[keyType] {
                report(certificatePath, "a second certificate with a \(CredentialLoader.keyTypeName(keyType)) key (\(certificate.chainFile) after \(earlier)): OpenSSL keeps one certificate per key type; combine at most one RSA and one ECDSA certificate")
                continue
            }
            keyTypes[keyType] = certificate.chainFile
            do {
                try context.useCertificateChainFile(certificate.chainFile)
            } catch {
                report(certificatePath, "cannot load certificate chain \(certificate.chainFile): \(CredentialLoader.describe(error))")
                continue
            }
            // The leaf as the context holds it, taken before the next certificate replaces "current".
            let leaf = context.currentCertificate()
            do {
                try context.usePrivateKey(key)
                try context.checkPrivateKey()
            } catch {
                report(certificatePath, "private key \(certificate.keyFile) does not match certificate \(certificate.chainFile): \(CredentialLoader.describe(error))")
                continue
            }
            if let file = certificate.ocspResponseFile {
                let keyPath = inline ? "\(path).ocsp_response_file" : "\(certificatePath).ocsp_response_file"
                guard let leaf else {
                    report(keyPath, "cannot staple \(file): the context holds no certificate from \(certificate.chainFile)")
                    continue
                }
                do {
                    staples.append(try CredentialLoader.loadOCSPStaple(
                        file, chainFile: certificate.chainFile, leaf: leaf, logger: logger, now: now))
                } catch {
                    report(keyPath, "\(error)")
                }
            }
        }
        return staples
    }

    /// Installs the CRLs of `crlFile` in the host context's store; returns the file's SHA-256 (nil after a
    /// reported failure).
    private mutating func loadCRLs(_ crlFile: String, path: String, into context: Context) -> [UInt8]? {
        do {
            return try CredentialLoader.installCRLs(crlFile, into: context)
        } catch {
            report(path, "\(error)")
            return nil
        }
    }

    // MARK: Listeners

    private mutating func compileListener(_ listener: ListenerConfiguration, index: Int, hosts: [Host]) -> ListenerTLS? {
        let path = "listener[\(index)]"
        let before = diagnostics.count
        let served = listener.hosts.compactMap { name in hosts.first { $0.name == name } }
        var names = ServerNameTable<Host>()
        for host in served {
            for serverName in host.serverNames {
                do { try names.insert(serverName, value: host) } catch {
                    report("\(path).hosts", "name '\(serverName)' of host '\(host.name)' is served twice on this listener")
                }
            }
        }
        let defaultHost = listener.defaultHost.flatMap { name in served.first { $0.name == name } }
        let context: Context
        do {
            context = try Context(method: .tlsServer)
        } catch {
            report(path, "cannot create a TLS context: \(error)")
            return nil
        }
        // The listener context holds what OpenSSL takes from the context a handshake starts with: the
        // session cache, session lifetime and ticket keys. Its version range is the union of its hosts'
        // (each host narrows it per connection), so OpenSSL does not refuse a version before selection.
        let minVersion = served.map(\.configuration.tls.minVersion).min() ?? .tls1_2
        let maxVersion: TLSVersion? = served.contains { $0.configuration.tls.maxVersion == nil }
            ? nil : served.compactMap(\.configuration.tls.maxVersion).max()
        var options = Self.baseOptions
        if !listener.session.tickets { options |= SSL.OP_NO_TICKET }
        let sessionTimeout = Int(listener.session.timeout.components.seconds)
        attempt(path) {
            _ = try context.setOptions(options)
            _ = try context.setMode(SSL.MODE_RELEASE_BUFFERS)
            // Connections are created from this context and keep its read-ahead through the SNI switch: one
            // read(2) per socket wake-up instead of one per record header and one per body. ProxyConnection
            // reads until wantRead, which buffered records need.
            try context.setReadAhead(true)
            try context.setMinProtoVersion(minVersion.rawValue)
            try context.setMaxProtoVersion(maxVersion?.rawValue ?? 0)
            try context.setSessionId(Crypto.digest("sha256", Array("portcullis listener\n\(listener.name)".utf8)))
            if listener.session.cacheSize == 0 {
                try context.setSessionCacheMode(SSL.SESS_CACHE_OFF)
            } else {
                try context.setSessionCacheMode(SSL.SESS_CACHE_SERVER)
                try context.setSessionCacheSize(listener.session.cacheSize)
            }
            try context.setTimeout(max(1, sessionTimeout))
        }
        if let ticketKeys {
            attempt("global.ticket_key_files") { try context.setTicketKeys(ticketKeys) }
        }
        let listenerName = listener.name
        let rules = ListenerTLS(configuration: listener, context: context, names: names, defaultHost: defaultHost)
        let selector = HostSelector(names: names, defaultHost: defaultHost, strictSNI: listener.strictSNI)
        attempt(path) {
            try context.setClientHelloCallback { connection in
                let serverName = connection.clientHelloServerName().map { String(decoding: $0, as: UTF8.self) }
                // No host: stay on the listener context, whose SNI callback refuses with unrecognized_name.
                guard let host = selector.select(serverName) else { return }
                try ListenerTLS.switchConnection(connection, to: host)
            }
            try context.setTLSExtServernameCallback { connection in
                // Only reached by connections that were not switched to a host (the trampoline runs the
                // callback of the connection's current context, and host contexts have none).
                let serverName = connection.getServername().map { String(decoding: $0, as: UTF8.self) }
                throw HostSelectionError.unrecognizedName(serverName, listener: listenerName)
            }
        }
        guard diagnostics.count == before else { return nil }
        return rules
    }
}

/// The selection rules captured by the listener's callbacks (a value: no reference to the listener context,
/// so the context does not keep itself alive through its own callback).
struct HostSelector: Sendable {
    let names: ServerNameTable<Host>
    let defaultHost: Host?
    let strictSNI: Bool

    func select(_ serverName: String?) -> Host? {
        guard let serverName, !serverName.isEmpty else { return defaultHost }
        if let host = names.lookup(serverName) { return host }
        return strictSNI ? nil : defaultHost
    }
}
