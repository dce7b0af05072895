import FoundationEssentials
import Logging
internal import TOMLKit

/// Reads the TOML configuration file into a `ProxyConfiguration`.
///
/// Schema: a `[global]` table, one or more `[[listener]]` sections and one or more `[[host]]` sections
/// (documented key by key in README.md ("Configuration reference")). Unknown keys are errors. Every error names the file, the
/// line and the key path, and says what was expected; all errors are collected before throwing.
///
/// Loading checks syntax and consistency only; certificates, keys, CAs and CRLs are read by
/// `HostTable.compile(_:)` (so `check` and reload both go through it).
public enum ConfigurationLoader {
    /// Reads and parses `path`. Relative paths inside the file are resolved against the file's directory.
    public static func load(file path: String) throws(ConfigurationError) -> ProxyConfiguration {
        let bytes: [UInt8]
        do {
            bytes = try LocalFile.read(path)
        } catch {
            throw ConfigurationError(file: path, message: "cannot read the configuration file: \(error)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError(file: path, message: "the file is not valid UTF-8")
        }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL
        return try parse(text, file: path, baseDirectory: absolute.deletingLastPathComponent().path, sourceFile: absolute.path)
    }

    /// Parses configuration text. `file` is used in messages; relative paths resolve against `baseDirectory`.
    public static func parse(
        _ text: String, file: String, baseDirectory: String, sourceFile: String? = nil
    ) throws(ConfigurationError) -> ProxyConfiguration {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError([ConfigurationDiagnostic(
                file: file, line: error.source.begin.line, column: error.source.begin.column,
                message: "TOML syntax error: \(error.description)")])
        } catch {
            throw ConfigurationError(file: file, message: "TOML syntax error: \(error)")
        }
        let sink = DiagnosticSink(file: file, locator: SourceLocator(text: text))
        var builder = Builder(sink: sink, baseDirectory: baseDirectory)
        var configuration = builder.read(TableReader(root, path: "", sink: sink))
        configuration.sourceFile = sourceFile
        configuration.sourceLocator = sink.locator
        if !sink.diagnostics.isEmpty { throw ConfigurationError(sink.diagnostics) }
        return configuration
    }
}

/// The schema, one method per section.
private struct Builder {
    let sink: DiagnosticSink
    let baseDirectory: String

    init(sink: DiagnosticSink, baseDirectory: String) {
        self.sink = sink
        self.baseDirectory = baseDirectory
    }

    /// An absolute path: relative paths are taken from the configuration file's directory.
    func resolvePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: baseDirectory, isDirectory: true)).standardizedFileURL.path
    }

    mutating func read(_ root: TableReader) -> ProxyConfiguration {
        var configuration = ProxyConfiguration()
        if let global = root.table("global") { readGlobal(global, into: &configuration) }
        let hostReaders = root.tables("host")
        configuration.hosts = hostReaders.enumerated().map { readHost($0.element, index: $0.offset) }
        let listenerReaders = root.tables("listener")
        configuration.listeners = listenerReaders.enumerated().map { readListener($0.element, index: $0.offset, hosts: configuration.hosts) }
        root.reportUnknownKeys()
        validate(configuration, root: root, listenerReaders: listenerReaders, hostReaders: hostReaders)
        return configuration
    }

    func readGlobal(_ global: TableReader, into configuration: inout ProxyConfiguration) {
        if global.table["workers"]?.string != nil, let text = global.string("workers") {
            if text.lowercased() == "auto" {
                configuration.workers = ProxyConfiguration.defaultWorkers
            } else {
                global.report("workers", "expected an integer from 1 to 1024 or \"auto\", got \"\(text)\"")
            }
        } else {
            configuration.workers = global.int("workers", default: ProxyConfiguration.defaultWorkers, range: 1...1024)
        }
        configuration.user = global.nonEmptyString("user")
        configuration.group = global.nonEmptyString("group")
        configuration.logLevel = global.choice("log_level", [
            ("trace", Logger.Level.trace), ("debug", .debug), ("info", .info), ("notice", .notice),
            ("warning", .warning), ("error", .error), ("critical", .critical),
        ], default: .info, aliases: ["warn": "warning"])
        configuration.logFormat = global.choice("log_format", LogFormat.allCases.map { ($0.rawValue, $0) }, default: .text)
        if let text = global.nonEmptyString("error_log") {
            configuration.logDestination = destination(text, allowOff: false, reader: global, key: "error_log")
        }
        if let text = global.nonEmptyString("access_log") {
            configuration.accessLog = destination(text, allowOff: true, reader: global, key: "access_log")
        }
        configuration.maxConnections = global.int("max_connections", default: 10_000, range: 1...10_000_000)
        configuration.maxConnectionsPerClient = global.int("max_connections_per_client", default: 0, range: 0...10_000_000)
        configuration.timeouts.handshake = global.duration("handshake_timeout", default: .seconds(10))
        configuration.timeouts.idle = global.duration("idle_timeout", default: .seconds(300))
        configuration.timeouts.backendConnect = global.duration("connect_timeout", default: .seconds(5))
        configuration.drainTimeout = global.duration("drain_timeout", default: .seconds(30), allowZero: true)
        configuration.backendResolveInterval = global.duration("backend_resolve_interval", default: .seconds(30), allowZero: true)
        configuration.ticketKeyFiles = (global.stringArray("ticket_key_files") ?? []).map(resolvePath)
        if let text = global.nonEmptyString("metrics_listen") {
            switch ListenAddress.parse(text) {
            case .success(let address): configuration.metricsListen = address
            case .failure(let error): global.report("metrics_listen", "invalid address \"\(text)\": \(error)")
            }
        }
        global.reportUnknownKeys()
    }

    func destination(_ text: String, allowOff: Bool, reader: TableReader, key: String) -> LogDestination {
        switch text.lowercased() {
        case "stdout", "-": return .stdout
        case "stderr": return .stderr
        case "off", "none":
            if allowOff { return .off }
            reader.report(key, "expected stdout, stderr or a file path; the operational log cannot be turned off")
            return .stderr
        default: return .file(resolvePath(text))
        }
    }

    func readListener(_ reader: TableReader, index: Int, hosts: [HostConfiguration]) -> ListenerConfiguration {
        var addresses: [ListenAddress] = []
        if let texts = reader.stringArray("listen") {
            if texts.isEmpty { reader.report("listen", "expected at least one address such as \"0.0.0.0:443\" or \"[::]:443\"") }
            for (offset, text) in texts.enumerated() {
                switch ListenAddress.parse(text) {
                case .success(let address): addresses.append(address)
                case .failure(let error):
                    let key = texts.count == 1 ? reader.keyPath("listen") : "\(reader.keyPath("listen"))[\(offset)]"
                    sink.report(key, "invalid address \"\(text)\": \(error)")
                }
            }
        } else if !reader.contains("listen") {
            sink.report(reader.path, "missing required key 'listen' (an address such as \"0.0.0.0:443\" or a list of them)")
        }
        let name = reader.nonEmptyString("name") ?? addresses.first.map { "\($0)" } ?? "listener\(index)"
        let hostNames = reader.stringArray("hosts") ?? hosts.map(\.name)
        let defaultHost = reader.nonEmptyString("default_host") ?? hostNames.first
        var session = SessionConfiguration()
        session.cacheSize = reader.int("session_cache_size", default: session.cacheSize, range: 0...10_000_000)
        session.timeout = reader.duration("session_timeout", default: session.timeout)
        session.tickets = reader.bool("session_tickets", default: session.tickets)
        let acceptProxy = reader.bool("accept_proxy", default: false)
        let proxySources = readProxySources(reader, acceptProxy: acceptProxy)
        let listener = ListenerConfiguration(
            name: name,
            addresses: addresses,
            hosts: hostNames,
            defaultHost: defaultHost,
            strictSNI: reader.bool("strict_sni", default: false),
            backlog: reader.int("backlog", default: 511, range: 1...65535),
            session: session,
            acceptProxy: acceptProxy,
            proxySources: proxySources
        )
        reader.reportUnknownKeys()
        return listener
    }

    /// `proxy_sources`: required and non-empty with `accept_proxy = true` (no default: see
    /// `ListenerConfiguration.proxySources`), meaningless without it.
    func readProxySources(_ reader: TableReader, acceptProxy: Bool) -> [NetworkPrefix] {
        let example = "e.g. [\"10.0.0.0/8\", \"192.0.2.7\", \"::1\"]"
        guard let texts = reader.stringArray("proxy_sources") else {
            if acceptProxy && !reader.contains("proxy_sources") {
                reader.report("accept_proxy", "accept_proxy = true needs proxy_sources: the addresses or CIDR networks of the load balancers allowed to send the PROXY header (\(example); [\"0.0.0.0/0\", \"::/0\"] trusts everyone)")
            }
            return []
        }
        if !acceptProxy {
            reader.report("proxy_sources", "is set but accept_proxy is not true (PROXY headers are only read with accept_proxy = true)")
        }
        if texts.isEmpty && reader.table["proxy_sources"]?.array?.count == 0 {
            reader.report("proxy_sources", "expected at least one address or CIDR network, \(example)")
        }
        var prefixes: [NetworkPrefix] = []
        for (offset, text) in texts.enumerated() {
            switch NetworkPrefix.parse(text) {
            case .success(let prefix): prefixes.append(prefix)
            case .failure(let error):
                sink.report("\(reader.keyPath("proxy_sources"))[\(offset)]", "invalid source \"\(text)\": \(error)")
            }
        }
        return prefixes
    }

    func readHost(_ reader: TableReader, index: Int) -> HostConfiguration {
        let name = reader.nonEmptyString("name") ?? {
            if !reader.contains("name") { sink.report(reader.path, "missing required key 'name' (the host's identifier, e.g. \"www\")") }
            return "host\(index)"
        }()
        var serverNames: [String] = []
        for (offset, text) in (reader.stringArray("names") ?? []).enumerated() {
            do {
                serverNames.append(try ServerNameTable<Int>.validate(text))
            } catch {
                if case .invalid(_, let why) = error {
                    sink.report("\(reader.keyPath("names"))[\(offset)]", "invalid name \"\(text)\": \(why)")
                }
            }
        }
        var certificates: [CertificateConfiguration] = []
        let inline = readCertificate(reader, nested: false)
        if let inline { certificates.append(inline) }
        for element in reader.tables("certificates") {
            if let certificate = readCertificate(element, nested: true) { certificates.append(certificate) }
            element.reportUnknownKeys()
        }
        if certificates.isEmpty {
            sink.report(reader.path, "host '\(name)' has no certificate: set 'certificate' (and 'key'), or a 'certificates' list")
        }
        var backends: [BackendAddress] = []
        var weights: [Int] = []
        for element in reader.stringsOrTables("backend") ?? [] {
            let text: String
            let key: String
            var weight = 1
            switch element {
            case .text(let string, let path):
                (text, key) = (string, path)
            case .table(let table):
                weight = table.int("weight", default: 1, range: 1...1000)
                key = table.keyPath("address")
                guard let address = table.nonEmptyString("address") else {
                    if !table.contains("address") { sink.report(table.path, "expected { address = \"host:port\", weight = N }") }
                    table.reportUnknownKeys()
                    continue
                }
                text = address
                table.reportUnknownKeys()
            }
            switch BackendAddress.parse(text) {
            case .success(.unix(let path)): backends.append(.unix(path: resolvePath(path)))
            case .success(let backend): backends.append(backend)
            case .failure(let error):
                sink.report(key, "invalid backend \"\(text)\": \(error)")
                continue
            }
            weights.append(weight)
        }
        if backends.isEmpty && !reader.contains("backend") {
            sink.report(reader.path, "host '\(name)' has no backend: set 'backend' to \"127.0.0.1:8080\", \"unix:/run/app.sock\" or a list")
        } else if backends.isEmpty && sink.diagnostics.last?.keyPath?.hasPrefix(reader.keyPath("backend")) != true {
            reader.report("backend", "expected at least one backend")
        }
        let proxyProtocol: ProxyProtocolVersion
        if let flag = reader.table["proxy_protocol"]?.bool {
            _ = reader.bool("proxy_protocol", default: false)
            proxyProtocol = flag ? .v1 : .off
        } else {
            proxyProtocol = reader.choice("proxy_protocol", ProxyProtocolVersion.allCases.map { ($0.rawValue, $0) }, default: .off)
        }
        var tls = TLSSettings()
        if let text = reader.string("min_version") {
            if let version = TLSVersion(configText: text) { tls.minVersion = version } else {
                reader.report("min_version", "expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3, got \"\(text)\"")
            }
        }
        if let text = reader.string("max_version") {
            if let version = TLSVersion(configText: text) { tls.maxVersion = version } else {
                reader.report("max_version", "expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3, got \"\(text)\"")
            }
        }
        if let maxVersion = tls.maxVersion, maxVersion < tls.minVersion {
            reader.report("max_version", "\(maxVersion) is below min_version \(tls.minVersion)")
        }
        tls.ciphers = reader.nonEmptyString("ciphers") ?? tls.ciphers
        tls.ciphersuites = reader.nonEmptyString("ciphersuites") ?? tls.ciphersuites
        tls.groups = reader.nonEmptyString("groups")
        tls.alpn = reader.stringArray("alpn") ?? []
        for (offset, protocolName) in tls.alpn.enumerated() where protocolName.isEmpty || protocolName.utf8.count > 255 {
            sink.report("\(reader.keyPath("alpn"))[\(offset)]", "an ALPN protocol name is 1 to 255 bytes, got \(protocolName.utf8.count)")
        }
        tls.sessionTickets = reader.bool("session_tickets", default: true)

        var client = ClientPolicyConfiguration()
        client.verify = reader.choice("client_verify", ClientVerifyMode.allCases.map { ($0.rawValue, $0) }, default: .none,
                                      aliases: ["required": "require", "off": "none"])
        client.caFile = reader.nonEmptyString("client_ca_file").map(resolvePath)
        client.caDirectory = reader.nonEmptyString("client_ca_dir").map(resolvePath)
        client.crlFile = reader.nonEmptyString("client_crl_file").map(resolvePath)
        client.verifyDepth = reader.int("client_verify_depth", default: client.verifyDepth, range: 0...100)
        client.allowCommonNames = reader.stringArray("allow_cn") ?? []
        client.allowDNSNames = reader.stringArray("allow_dns") ?? []
        client.allowURIs = reader.stringArray("allow_uri") ?? []
        client.allowOrganizationalUnits = reader.stringArray("allow_ou") ?? []
        readAllowListExtras(reader, into: &client)
        if client.verify != .none && client.caFile == nil && client.caDirectory == nil {
            reader.report("client_verify", "client_verify = \"\(client.verify.rawValue)\" needs client_ca_file or client_ca_dir (the CAs client certificates must chain to)")
        }
        let verifyText = reader.table["client_verify"]?.string?.lowercased()
        let explicitlyNone = verifyText == nil || verifyText == "none" || verifyText == "off"
        if client.verify == .none && explicitlyNone && !(reader.table.contains(key: "client_verify") && verifyText == nil) {
            for key in ["client_ca_file", "client_ca_dir", "client_crl_file", "allow_cn", "allow_dns", "allow_uri", "allow_ou",
                        "allow_email", "allow_ip", "allow_spki_sha256", "client_refused_backend"] where reader.contains(key) {
                reader.report(key, "has no effect with client_verify = \"none\"; set client_verify = \"optional\" or \"require\"")
            }
        }
        if client.crlFile != nil && client.caFile == nil && client.caDirectory == nil {
            reader.report("client_crl_file", "needs client_ca_file or client_ca_dir")
        }
        var host = HostConfiguration(
            name: name, serverNames: serverNames, certificates: certificates, backends: backends,
            proxyProtocol: proxyProtocol, tls: tls, client: client)
        host.inlineCertificate = inline != nil
        readClientCertificateForwarding(reader, into: &host)
        host.backendHealth = readBackendHealth(reader)
        if weights.contains(where: { $0 != 1 }) { host.backendHealth.weights = weights }
        host.selfSignedIfMissing = reader.bool("self_signed_if_missing", default: false)
        if host.selfSignedIfMissing && (certificates.count != 1 || certificates.first?.passphrase != nil || reader.contains("certificates")) {
            reader.report("self_signed_if_missing", "needs exactly one unencrypted 'certificate' + 'key' pair (the files to create)")
        }
        reader.reportUnknownKeys()
        return host
    }

    /// `allow_email`, `allow_ip`, `allow_spki_sha256`: each entry checked here, so a typo is an error naming
    /// the entry instead of an allow-list entry that can never match.
    func readAllowListExtras(_ reader: TableReader, into client: inout ClientPolicyConfiguration) {
        func elementPath(_ key: String, _ offset: Int) -> String {
            reader.table[key]?.string != nil ? reader.keyPath(key) : "\(reader.keyPath(key))[\(offset)]"
        }
        for (offset, text) in (reader.stringArray("allow_email") ?? []).enumerated() {
            if EmailAddress(text) != nil, !text.contains(where: \.isWhitespace) {
                client.allowEmails.append(text)
            } else {
                sink.report(elementPath("allow_email", offset),
                            "invalid e-mail address \"\(text)\": expected local-part@domain, e.g. \"alice@example.com\"")
            }
        }
        for (offset, text) in (reader.stringArray("allow_ip") ?? []).enumerated() {
            switch NetworkPrefix.parse(text) {
            case .success(let prefix): client.allowIPs.append(prefix)
            case .failure(let error): sink.report(elementPath("allow_ip", offset), "invalid address \"\(text)\": \(error)")
            }
        }
        for (offset, text) in (reader.stringArray("allow_spki_sha256") ?? []).enumerated() {
            if PublicKeyPin.decode(text) != nil {
                client.allowPublicKeyPins.append(text)
            } else {
                sink.report(elementPath("allow_spki_sha256", offset),
                            "invalid pin \"\(text)\": expected 44 characters of standard base64 (with '=' padding) of the SHA-256 of the certificate's DER SubjectPublicKeyInfo, as printed by `portcullis cert inspect` or by `openssl x509 -in client.pem -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`")
            }
        }
    }

    /// `proxy_client_certificate` (needs PROXY v2 and a client certificate to forward) and
    /// `client_refused_backend` (needs an allow-list: without one, every verified certificate is admitted and
    /// nobody would ever be redirected).
    func readClientCertificateForwarding(_ reader: TableReader, into host: inout HostConfiguration) {
        host.proxyClientCertificate = reader.bool("proxy_client_certificate", default: false)
        if host.proxyClientCertificate {
            if host.proxyProtocol != .v2 {
                reader.report("proxy_client_certificate", "needs proxy_protocol = \"v2\" (the certificate travels in a PROXY v2 TLV); proxy_protocol is \"\(host.proxyProtocol.rawValue)\"")
            } else if host.client.verify == .none {
                reader.report("proxy_client_certificate", "has no effect with client_verify = \"none\" (no client certificate is asked for); set client_verify = \"optional\" or \"require\"")
            }
        }
        guard let text = reader.nonEmptyString("client_refused_backend") else { return }
        switch BackendAddress.parse(text) {
        case .success(.unix(let path)): host.refusedBackend = .unix(path: resolvePath(path))
        case .success(let backend): host.refusedBackend = backend
        case .failure(let error):
            reader.report("client_refused_backend", "invalid backend \"\(text)\": \(error)")
            return
        }
        if host.client.verify != .none && !host.client.hasAllowList {
            reader.report("client_refused_backend", "has no effect without an allow-list (allow_cn, allow_ou, allow_dns, allow_uri, allow_email, allow_ip or allow_spki_sha256): every certificate that verifies is admitted, so no client would ever be redirected")
        }
    }

    /// `balance`, `backend_max_fails`, `backend_fail_timeout` and the `health_check_*` keys of a host.
    func readBackendHealth(_ reader: TableReader) -> BackendHealthConfiguration {
        var health = BackendHealthConfiguration()
        health.balance = reader.choice("balance", BalanceMethod.allCases.map { ($0.rawValue, $0) }, default: .roundRobin,
                                       aliases: ["roundrobin": "round_robin", "leastconn": "least_connections"])
        health.maxFails = reader.int("backend_max_fails", default: health.maxFails, range: 0...1_000_000)
        health.failTimeout = reader.duration("backend_fail_timeout", default: health.failTimeout)
        let enabled = reader.contains("health_check_interval")
        let interval = reader.duration("health_check_interval", default: .seconds(2))
        let timeout = reader.contains("health_check_timeout") ? reader.duration("health_check_timeout", default: .seconds(2)) : nil
        let rise = reader.int("health_check_rise", default: 2, range: 1...1000)
        let fall = reader.int("health_check_fall", default: 3, range: 1...1000)
        var http: HTTPHealthCheck?
        if let text = reader.nonEmptyString("health_check_http") {
            http = HTTPHealthCheck.parse(text)
            if http == nil {
                reader.report("health_check_http", "expected \"METHOD /path\" or \"/path\", e.g. \"GET /healthz\", got \"\(text)\"")
            }
        }
        if enabled {
            health.check = HealthCheckConfiguration(interval: interval, timeout: timeout, rise: rise, fall: fall, http: http)
        } else {
            for key in ["health_check_timeout", "health_check_rise", "health_check_fall", "health_check_http"] where reader.contains(key) {
                reader.report(key, "has no effect without health_check_interval (active health checks are off); set health_check_interval = \"2s\" to turn them on")
            }
        }
        return health
    }

    /// `certificate` + `key` (+ passphrase, + OCSP response) at host level (`nested == false`, all optional) or inside a
    /// `certificates` element (`certificate` required).
    func readCertificate(_ reader: TableReader, nested: Bool) -> CertificateConfiguration? {
        let chain = reader.nonEmptyString("certificate")
        let key = reader.nonEmptyString("key")
        let passphraseFile = reader.nonEmptyString("key_passphrase_file")
        let passphraseEnv = reader.nonEmptyString("key_passphrase_env")
        let ocspResponseFile = reader.nonEmptyString("ocsp_response_file")
        guard let chain else {
            if nested && !reader.contains("certificate") {
                sink.report(reader.path, "missing required key 'certificate' (PEM file: certificate then intermediates)")
            } else if !nested {
                for name in ["key", "key_passphrase_file", "key_passphrase_env", "ocsp_response_file"] where reader.contains(name) {
                    reader.report(name, "is set but 'certificate' is not")
                }
            }
            return nil
        }
        var passphrase: PassphraseSource?
        if let passphraseFile, passphraseEnv != nil {
            reader.report("key_passphrase_env", "set either key_passphrase_file or key_passphrase_env, not both")
            passphrase = .file(resolvePath(passphraseFile))
        } else if let passphraseFile {
            passphrase = .file(resolvePath(passphraseFile))
        } else if let passphraseEnv {
            passphrase = .environment(passphraseEnv)
        }
        return CertificateConfiguration(chainFile: resolvePath(chain), keyFile: key.map(resolvePath), passphrase: passphrase,
                                        ocspResponseFile: ocspResponseFile.map(resolvePath))
    }

    func validate(_ configuration: ProxyConfiguration, root: TableReader, listenerReaders: [TableReader], hostReaders: [TableReader]) {
        if hostReaders.isEmpty && !root.contains("host") {
            sink.report("host", "no [[host]] section: at least one host is required")
        }
        if listenerReaders.isEmpty && !root.contains("listener") {
            sink.report("listener", "no [[listener]] section: at least one listener is required")
        }
        var hostIndex: [String: Int] = [:]
        var nameOwner: [String: String] = [:]
        for (index, host) in configuration.hosts.enumerated() {
            if let first = hostIndex[host.name] {
                sink.report("host[\(index)].name", "duplicate host name '\(host.name)' (also host[\(first)])")
            } else {
                hostIndex[host.name] = index
            }
            for serverName in host.serverNames {
                if let owner = nameOwner[serverName], owner != host.name {
                    sink.report("host[\(index)].names", "name '\(serverName)' is already served by host '\(owner)'")
                } else if nameOwner[serverName] == host.name {
                    sink.report("host[\(index)].names", "name '\(serverName)' is listed twice")
                }
                nameOwner[serverName] = host.name
            }
        }
        var listenerNames: [String: Int] = [:]
        var boundAddresses: [ListenAddress: String] = [:]
        for (index, listener) in configuration.listeners.enumerated() {
            let path = "listener[\(index)]"
            if let first = listenerNames[listener.name] {
                sink.report("\(path).name", "duplicate listener name '\(listener.name)' (also listener[\(first)])")
            }
            listenerNames[listener.name] = index
            for address in listener.addresses {
                if address == configuration.metricsListen, address.port != 0 {
                    sink.report("\(path).listen", "address \(address) is also global.metrics_listen")
                }
                if let other = boundAddresses[address] {
                    sink.report("\(path).listen", "address \(address) is also used by listener '\(other)'")
                }
                boundAddresses[address] = listener.name
            }
            for hostName in listener.hosts where hostIndex[hostName] == nil {
                sink.report("\(path).hosts", "unknown host '\(hostName)'" + Self.suggestion(hostName, Array(hostIndex.keys)))
            }
            if let defaultHost = listener.defaultHost {
                if hostIndex[defaultHost] == nil {
                    sink.report("\(path).default_host", "unknown host '\(defaultHost)'" + Self.suggestion(defaultHost, Array(hostIndex.keys)))
                } else if !listener.hosts.contains(defaultHost) {
                    sink.report("\(path).default_host", "host '\(defaultHost)' is not in this listener's 'hosts' list")
                }
            }
            if listener.hosts.isEmpty {
                sink.report("\(path).hosts", "a listener needs at least one host")
            }
        }
    }

    static func suggestion(_ name: String, _ candidates: [String]) -> String {
        TableReader.closest(to: name, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }
}
