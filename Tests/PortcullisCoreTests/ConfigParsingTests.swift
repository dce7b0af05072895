import Foundation
import Logging
import Testing
@testable import PortcullisCore

/// Parses `text` as if it were `/etc/portcullis/test.toml`.
func parseConfiguration(_ text: String) throws(ConfigurationError) -> ProxyConfiguration {
    try ConfigurationLoader.parse(text, file: "test.toml", baseDirectory: "/etc/portcullis")
}

/// The diagnostics a broken configuration produces (an issue is recorded when it parses).
func diagnostics(_ text: String) -> [ConfigurationDiagnostic] {
    do {
        _ = try parseConfiguration(text)
        Issue.record("expected a configuration error")
        return []
    } catch {
        return error.diagnostics
    }
}

let minimalHost = """
    [[listener]]
    listen = "127.0.0.1:8443"

    [[host]]
    name = "www"
    certificate = "www.pem"
    backend = "127.0.0.1:8080"

    """

@Suite struct ConfigParsingTests {
    @Test func everyKeyIsRead() throws {
        let configuration = try parseConfiguration("""
            [global]
            workers = 3
            user = "nobody"
            group = "nogroup"
            log_level = "debug"
            log_format = "json"
            error_log = "logs/error.log"
            access_log = "/var/log/portcullis/access.log"
            max_connections = 500
            max_connections_per_client = 20
            backend_resolve_interval = "1m"
            handshake_timeout = "2s"
            idle_timeout = "1h30m"
            connect_timeout = 3
            drain_timeout = "250ms"
            ticket_key_files = ["tickets/current.key", "/etc/portcullis/tickets/previous.key"]

            [[listener]]
            name = "public"
            listen = ["0.0.0.0:443", "[::]:443"]
            hosts = ["www", "api"]
            default_host = "www"
            strict_sni = true
            backlog = 1024
            session_cache_size = 0
            session_timeout = "10m"
            session_tickets = false

            [[host]]
            name = "www"
            names = ["www.example.com", "*.Example.com."]
            certificate = "www.pem"
            key = "www.key"
            key_passphrase_file = "www.pass"
            backend = ["127.0.0.1:8080", "[::1]:8081", "unix:/run/www.sock", "/run/www2.sock", "app.internal:9000"]
            proxy_protocol = "v2"
            min_version = "TLSv1.3"
            max_version = "1.3"
            ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"
            ciphersuites = "TLS_AES_128_GCM_SHA256"
            groups = "X25519:P-256"
            alpn = ["h2", "http/1.1"]
            session_tickets = false

            [[host]]
            name = "api"
            names = ["api.example.com"]
            certificates = [
              { certificate = "api-rsa.pem", key = "api-rsa.key" },
              { certificate = "api-ecdsa.pem", key_passphrase_env = "API_PASS" },
            ]
            backend = "127.0.0.1:9000"
            proxy_protocol = true
            client_verify = "required"
            client_ca_file = "clients/ca.pem"
            client_ca_dir = "/etc/ssl/clients"
            client_crl_file = "clients/ca.crl"
            client_verify_depth = 2
            allow_cn = ["billing"]
            allow_dns = ["*.clients.example.com"]
            allow_uri = ["spiffe://corp.example/ns/prod/*"]
            allow_ou = ["ops"]
            self_signed_if_missing = false
            """)
        #expect(configuration.workers == 3)
        #expect(configuration.user == "nobody")
        #expect(configuration.group == "nogroup")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.logFormat == .json)
        #expect(configuration.logDestination == .file("/etc/portcullis/logs/error.log"))
        #expect(configuration.accessLog == .file("/var/log/portcullis/access.log"))
        #expect(configuration.maxConnections == 500)
        #expect(configuration.maxConnectionsPerClient == 20)
        #expect(configuration.backendResolveInterval == .seconds(60))
        #expect(configuration.timeouts == Timeouts(handshake: .seconds(2), idle: .seconds(5400), backendConnect: .seconds(3)))
        #expect(configuration.drainTimeout == .milliseconds(250))

        let listener = try #require(configuration.listeners.first)
        #expect(listener.name == "public")
        #expect(listener.addresses == [
            ListenAddress(host: "0.0.0.0", port: 443, family: .ipv4), ListenAddress(host: "::", port: 443, family: .ipv6),
        ])
        #expect(listener.hosts == ["www", "api"])
        #expect(listener.defaultHost == "www")
        #expect(listener.strictSNI)
        #expect(listener.backlog == 1024)
        #expect(listener.session == SessionConfiguration(cacheSize: 0, timeout: .seconds(600), tickets: false))
        #expect(configuration.ticketKeyFiles == ["/etc/portcullis/tickets/current.key", "/etc/portcullis/tickets/previous.key"])

        let www = try #require(configuration.host(named: "www"))
        #expect(www.serverNames == ["www.example.com", "*.example.com"])
        #expect(www.certificates == [CertificateConfiguration(
            chainFile: "/etc/portcullis/www.pem", keyFile: "/etc/portcullis/www.key", passphrase: .file("/etc/portcullis/www.pass"))])
        #expect(www.backends == [
            .tcp(host: "127.0.0.1", port: 8080), .tcp(host: "::1", port: 8081), .unix(path: "/run/www.sock"),
            .unix(path: "/run/www2.sock"), .tcp(host: "app.internal", port: 9000),
        ])
        #expect(www.proxyProtocol == .v2)
        #expect(www.tls == TLSSettings(
            minVersion: .tls1_3, maxVersion: .tls1_3, ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256",
            ciphersuites: "TLS_AES_128_GCM_SHA256", groups: "X25519:P-256", alpn: ["h2", "http/1.1"], sessionTickets: false))
        #expect(www.client == ClientPolicyConfiguration())

        let api = try #require(configuration.host(named: "api"))
        #expect(api.certificates == [
            CertificateConfiguration(chainFile: "/etc/portcullis/api-rsa.pem", keyFile: "/etc/portcullis/api-rsa.key"),
            CertificateConfiguration(chainFile: "/etc/portcullis/api-ecdsa.pem", passphrase: .environment("API_PASS")),
        ])
        #expect(api.certificates[1].keyFile == "/etc/portcullis/api-ecdsa.pem")  // key bundled in the chain file
        #expect(api.proxyProtocol == .v1)
        #expect(api.client == ClientPolicyConfiguration(
            verify: .require, caFile: "/etc/portcullis/clients/ca.pem", caDirectory: "/etc/ssl/clients",
            crlFile: "/etc/portcullis/clients/ca.crl", verifyDepth: 2, allowCommonNames: ["billing"],
            allowDNSNames: ["*.clients.example.com"], allowURIs: ["spiffe://corp.example/ns/prod/*"],
            allowOrganizationalUnits: ["ops"]))
        #expect(!api.selfSignedIfMissing)
    }

    @Test func defaults() throws {
        let configuration = try parseConfiguration(minimalHost)
        #expect(configuration.workers == ProxyConfiguration.defaultWorkers)
        #expect(configuration.workers >= 1)
        #expect(configuration.user == nil && configuration.group == nil)
        #expect(configuration.logLevel == .info)
        #expect(configuration.logFormat == .text)
        #expect(configuration.logDestination == .stderr)
        #expect(configuration.accessLog == .stdout)
        #expect(configuration.maxConnections == 10_000)
        #expect(configuration.maxConnectionsPerClient == 0)
        #expect(configuration.backendResolveInterval == .seconds(30))
        #expect(configuration.timeouts == Timeouts(handshake: .seconds(10), idle: .seconds(300), backendConnect: .seconds(5)))
        #expect(configuration.drainTimeout == .seconds(30))
        let listener = try #require(configuration.listeners.first)
        #expect(listener.name == "127.0.0.1:8443")
        #expect(listener.hosts == ["www"])
        #expect(listener.defaultHost == "www")
        #expect(!listener.strictSNI)
        #expect(listener.backlog == 511)
        #expect(listener.session == SessionConfiguration(cacheSize: 20_480, timeout: .seconds(300), tickets: true))
        #expect(configuration.ticketKeyFiles.isEmpty)
        let host = try #require(configuration.hosts.first)
        #expect(host.serverNames.isEmpty)
        #expect(host.certificates == [CertificateConfiguration(chainFile: "/etc/portcullis/www.pem")])
        #expect(host.proxyProtocol == .off)
        #expect(host.tls == TLSSettings())
        #expect(host.tls.minVersion == .tls1_2)
        #expect(host.tls.maxVersion == nil)
        #expect(host.tls.sessionTickets)
        #expect(host.client.verify == .none)
        #expect(host.client.verifyDepth == 9)
        #expect(!host.client.hasAllowList)
        #expect(!host.selfSignedIfMissing)
    }

    @Test func workersAuto() throws {
        let configuration = try parseConfiguration("[global]\nworkers = \"auto\"\n" + minimalHost)
        #expect(configuration.workers == ProxyConfiguration.defaultWorkers)
    }

    @Test func syntaxErrorsNameLineAndColumn() {
        let found = diagnostics("[global]\nworkers = 2\nlog_level = \"info\n")
        #expect(found.count == 1)
        #expect(found.first?.line == 3)
        #expect(found.first?.column != nil)
        #expect(found.first?.description.hasPrefix("test.toml:3:") == true)
        #expect(found.first?.message.contains("TOML syntax error") == true)
    }

    @Test func unknownKeysAreErrorsWithSuggestions() {
        let found = diagnostics(minimalHost + "backends = [\"127.0.0.1:9000\"]\n")
        #expect(found.count == 1)
        let diagnostic = found.first
        #expect(diagnostic?.keyPath == "host[0].backends")
        #expect(diagnostic?.line == 8)
        #expect(diagnostic?.message == "unknown key (did you mean 'backend'?)")
        #expect(diagnostic?.description == "test.toml:8: host[0].backends: unknown key (did you mean 'backend'?)")

        let topLevel = diagnostics("[[hosts]]\nname = \"x\"\n" + minimalHost)
        #expect(topLevel.contains { $0.keyPath == "hosts" && $0.message.contains("did you mean 'host'") && $0.line == 1 })
        let global = diagnostics("[global]\nworker = 2\n" + minimalHost)
        #expect(global.map(\.description) == ["test.toml:2: global.worker: unknown key (did you mean 'workers'?)"])
    }

    @Test func wrongValuesNameTheKeyPathAndWhatWasExpected() {
        let text = minimalHost + """

            [[host]]
            name = "api"
            certificate = "api.pem"
            backend = "127.0.0.1:9000"
            client_verify = "maybe"
            client_ca_file = "ca.pem"
            client_verify_depth = "deep"
            min_version = "SSLv3"
            """
        let found = diagnostics(text)
        #expect(found.contains { $0.keyPath == "host[1].client_verify" && $0.line == 13 && $0.message == "expected none, optional or require, got \"maybe\"" })
        #expect(found.contains { $0.keyPath == "host[1].client_verify_depth" && $0.line == 15 && $0.message == "expected an integer from 0 to 100, got a string" })
        #expect(found.contains { $0.keyPath == "host[1].min_version" && $0.line == 16 })
        #expect(found.count == 3, "\(found)")
    }

    @Test func typeErrorsAcrossSections() {
        let found = diagnostics("""
            [global]
            max_connections = 0
            log_format = "xml"
            handshake_timeout = "soon"
            access_log = 5
            max_connections_per_client = -1
            backend_resolve_interval = "often"

            """ + minimalHost)
        #expect(found.contains { $0.keyPath == "global.max_connections" && $0.line == 2 && $0.message.contains("from 1 to 10000000, got 0") })
        #expect(found.contains { $0.keyPath == "global.log_format" && $0.message == "expected text or json, got \"xml\"" })
        #expect(found.contains { $0.keyPath == "global.handshake_timeout" && $0.line == 4 && $0.message.contains("got \"soon\"") })
        #expect(found.contains { $0.keyPath == "global.access_log" && $0.message == "expected a string, got an integer" })
        #expect(found.contains { $0.keyPath == "global.max_connections_per_client" && $0.line == 6 && $0.message.contains("got -1") })
        #expect(found.contains { $0.keyPath == "global.backend_resolve_interval" && $0.line == 7 && $0.message.contains("got \"often\"") })
    }

    @Test func missingSectionsAndKeys() {
        let empty = diagnostics("")
        #expect(empty.contains { $0.keyPath == "host" && $0.message.contains("at least one host") })
        #expect(empty.contains { $0.keyPath == "listener" && $0.message.contains("at least one listener") })
        let noBackend = diagnostics("[[listener]]\nlisten = \":443\"\n[[host]]\nname = \"www\"\ncertificate = \"a.pem\"\n")
        #expect(noBackend.map(\.description) == ["test.toml:3: host[0]: host 'www' has no backend: set 'backend' to \"127.0.0.1:8080\", \"unix:/run/app.sock\" or a list"])
        let noCertificate = diagnostics("[[listener]]\nlisten = \":443\"\n[[host]]\nname = \"www\"\nbackend = \"127.0.0.1:1\"\nkey = \"a.key\"\n")
        #expect(noCertificate.contains { $0.keyPath == "host[0].key" && $0.message == "is set but 'certificate' is not" })
        #expect(noCertificate.contains { $0.keyPath == "host[0]" && $0.message.contains("has no certificate") })
    }

    @Test func referencesBetweenSectionsAreChecked() {
        let found = diagnostics(minimalHost + """

            [[listener]]
            listen = "127.0.0.1:8444"
            hosts = ["ww"]
            default_host = "api"

            [[host]]
            name = "www"
            names = ["www.example.com", "www.example.com"]
            certificate = "b.pem"
            backend = "127.0.0.1:1"
            """)
        #expect(found.contains { $0.keyPath == "listener[1].hosts" && $0.message == "unknown host 'ww' (did you mean 'www'?)" && $0.line == 11 })
        #expect(found.contains { $0.keyPath == "listener[1].default_host" && $0.message == "unknown host 'api'" })
        #expect(found.contains { $0.keyPath == "host[1].name" && $0.message == "duplicate host name 'www' (also host[0])" })
        #expect(found.contains { $0.keyPath == "host[1].names" && $0.message == "name 'www.example.com' is listed twice" })
    }

    @Test func policyConsistency() {
        let found = diagnostics(minimalHost + """
            client_verify = "require"
            allow_cn = ["x"]
            """)
        #expect(found.map(\.description) == [
            "test.toml:8: host[0].client_verify: client_verify = \"require\" needs client_ca_file or client_ca_dir (the CAs client certificates must chain to)",
        ])
        let unused = diagnostics(minimalHost + "allow_uri = [\"spiffe://x/*\"]\n")
        #expect(unused.map(\.message) == ["has no effect with client_verify = \"none\"; set client_verify = \"optional\" or \"require\""])
    }

    @Test(arguments: [
        ("0.0.0.0:443", "0.0.0.0:443"), ("[::]:8443", "[::]:8443"), ("*:80", "0.0.0.0:80"), (":80", "0.0.0.0:80"),
        ("localhost:0", "127.0.0.1:0"), ("[::1]:1", "[::1]:1"),
    ])
    func listenAddresses(text: String, expected: String) throws {
        let address = try ListenAddress.parse(text).get()
        #expect(address.description == expected)
    }

    @Test(arguments: ["443", "::1:443", "example.com:443", "1.2.3.4:99999", "[::1:443", "[zz]:1"])
    func invalidListenAddresses(text: String) {
        #expect(throws: AddressParseError.self) { try ListenAddress.parse(text).get() }
    }

    @Test func listenAddressErrorsNameTheElement() {
        let found = diagnostics("[[listener]]\nlisten = [\"0.0.0.0:443\", \"::1:443\"]\n" + minimalHost.replacingOccurrences(of: "[[listener]]\nlisten = \"127.0.0.1:8443\"\n", with: ""))
        #expect(found.map(\.description) == ["test.toml:2: listener[0].listen[1]: invalid address \"::1:443\": IPv6 addresses need brackets: [::1]:443"])
    }

    @Test(arguments: [
        ("10s", Duration.seconds(10)), ("500ms", .milliseconds(500)), ("5m", .seconds(300)), ("1h30m", .seconds(5400)),
        ("2h", .seconds(7200)), ("1m30s", .seconds(90)),
    ])
    func durations(text: String, expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test(arguments: ["", "10", "s", "10x", "1.5s", "-1s", "10 s s"])
    func invalidDurations(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test func fileErrorsNameTheFile() {
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(file: "/nonexistent/portcullis.toml") }
        do {
            _ = try ConfigurationLoader.load(file: "/nonexistent/portcullis.toml")
        } catch {
            #expect(error.description == "/nonexistent/portcullis.toml: cannot read the configuration file: No such file or directory")
        }
    }

    @Test func relativePathsFollowTheFileNotTheWorkingDirectory() throws {
        let directory = NSTemporaryDirectory() + "portcullis-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/conf", withIntermediateDirectories: true)
        try minimalHost.write(toFile: directory + "/conf/p.toml", atomically: true, encoding: .utf8)
        let configuration = try ConfigurationLoader.load(file: directory + "/conf/p.toml")
        #expect(configuration.hosts[0].certificates[0].chainFile == directory + "/conf/www.pem")
        #expect(configuration.sourceFile == directory + "/conf/p.toml")
    }

    @Test func sourceLocatorFollowsArrayTables() {
        let locator = SourceLocator(text: """
            [global]
            workers = 1
            [[host]]
            name = "a"
            [[host]]
            name = "b"
            certificates = [
              { certificate = "x" },
            ]
            [[host.extra]]
            key = 1
            """)
        #expect(locator.line(of: "global.workers") == 2)
        #expect(locator.line(of: "host[0].name") == 4)
        #expect(locator.line(of: "host[1].name") == 6)
        #expect(locator.line(of: "host[1].certificates[0].certificate") == 7)
        #expect(locator.line(of: "host[1].extra[0].key") == 11)
        #expect(locator.line(of: "host[1].missing") == 5)
        #expect(locator.line(of: "nothing") == nil)
    }
}
