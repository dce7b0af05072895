import Foundation
import Testing

extension Integration {
    /// Versions, ciphers and ALPN are enforced as configured.
    @Suite struct ProtocolPolicy {
        let pki = IntegrationPKI.shared

        private func start(_ extra: [String: String]) throws -> (ProxyProcess, UInt16) {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            var config = ProxyConfigBuilder()
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                                  backends: ["127.0.0.1:\(backend.port)"], extra: extra)]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a")]
            return (try ProxyProcess(config: config.toml, waitForPorts: [port]), port)
        }

        private func client(_ port: UInt16, configure: (inout PythonTLSClient.Options) -> Void = { _ in }) throws -> PythonTLSClient.Outcome {
            var options = PythonTLSClient.Options(port: port, sni: "a.example.com", caFile: pki.serverCA, sendText: "x")
            configure(&options)
            return try PythonTLSClient.run(options)[0]
        }

        @Test func defaultsRefuseTLS11AndOffer13() throws {
            let (proxy, port) = try start([:])
            defer { proxy.stop() }
            let modern = try client(port)
            #expect(modern.ok && modern.version == "TLSv1.3", "\(modern.error ?? "")")
            let old = try SClient.connect(port: port, servername: "a.example.com", caFile: pki.serverCA,
                                          extra: ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
            #expect(!old.handshakeSucceeded, "TLS 1.1 must be refused by default: \(old.output)")
        }

        @Test func versionLimits() throws {
            let (proxy, port) = try start(["max_version": tomlString("TLSv1.2")])
            defer { proxy.stop() }
            let capped = try client(port)
            #expect(capped.ok && capped.version == "TLSv1.2", "\(capped.error ?? "")")
            let only13 = try client(port) { $0.minVersion = "1.3" }
            #expect(!only13.ok, "a TLS 1.3-only client must fail against max_version TLSv1.2")
        }

        @Test func minimumTLS13() throws {
            let (proxy, port) = try start(["min_version": tomlString("TLSv1.3")])
            defer { proxy.stop() }
            let old = try client(port) { $0.maxVersion = "1.2" }
            #expect(!old.ok)
            #expect(try client(port).version == "TLSv1.3")
        }

        @Test func cipherListsAreEnforced() throws {
            let (proxy, port) = try start([
                "max_version": tomlString("TLSv1.2"),
                "ciphers": tomlString("ECDHE-RSA-AES128-GCM-SHA256"),
            ])
            defer { proxy.stop() }
            let matching = try client(port) { $0.ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305" }
            #expect(matching.ok && matching.cipher == "ECDHE-RSA-AES128-GCM-SHA256", "\(matching.error ?? "")")
            let other = try client(port) { $0.ciphers = "ECDHE-RSA-CHACHA20-POLY1305" }
            #expect(!other.ok, "no shared cipher must fail the handshake")
        }

        @Test func tls13CiphersuitesAreEnforced() throws {
            let (proxy, port) = try start(["ciphersuites": tomlString("TLS_CHACHA20_POLY1305_SHA256")])
            defer { proxy.stop() }
            let outcome = try client(port)
            #expect(outcome.cipher == "TLS_CHACHA20_POLY1305_SHA256", "\(outcome.error ?? "")")
        }

        @Test func alpnUsesTheServersPreference() throws {
            let (proxy, port) = try start(["alpn": tomlArray(["h2", "http/1.1"])])
            defer { proxy.stop() }
            let both = try client(port) { $0.alpn = ["http/1.1", "h2"] }
            #expect(both.alpn == "h2", "\(both.error ?? "")")
            let http11 = try client(port) { $0.alpn = ["http/1.1"] }
            #expect(http11.alpn == "http/1.1")
            let unknown = try client(port) { $0.alpn = ["smtp"] }
            #expect(!unknown.ok || unknown.alpn == nil, "no protocol in common is never answered with one")
            #expect(proxy.waitForLog("alpn=h2", timeout: 5) || proxy.waitForLog("\"alpn\":\"h2\"", timeout: 1), "\(proxy.log)")
        }
    }
}
