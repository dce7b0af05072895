import Foundation
import Testing

extension Integration {
    /// SNI picks the host and its certificate: exact name, one-label wildcard, listener default, strict SNI, and
    /// RSA or ECDSA by what the client supports.
    @Suite struct SNIRouting {
        let pki = IntegrationPKI.shared

        /// Four hosts, each with a backend that greets with the host's name.
        private func start(strict: Bool = false) throws -> (ProxyProcess, [String: TestBackend], UInt16) {
            let port = Ports.free()
            var backends: [String: TestBackend] = [:]
            for name in ["a", "b", "wild", "default"] { backends[name] = try TestBackend(mode: .greet("backend-\(name)\n")) }
            var config = ProxyConfigBuilder()
            config.hosts = [
                .init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                      backends: ["127.0.0.1:\(backends["a"]!.port)"]),
                .init(name: "b", names: ["b.example.com"],
                      certificates: [(pki.cert("b"), pki.key("b")), (pki.cert("b-rsa"), pki.key("b-rsa"))],
                      backends: ["127.0.0.1:\(backends["b"]!.port)"]),
                .init(name: "wild", names: ["*.wild.example.com"], certificates: [(pki.cert("wild"), pki.key("wild"))],
                      backends: ["127.0.0.1:\(backends["wild"]!.port)"]),
                .init(name: "default", names: ["default.example.com"],
                      certificates: [(pki.cert("default"), pki.key("default"))],
                      backends: ["127.0.0.1:\(backends["default"]!.port)"]),
            ]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a", "b", "wild", "default"], defaultHost: "default",
                                      extra: strict ? ["strict_sni": "true"] : [:])]
            return (try ProxyProcess(config: config.toml, waitForPorts: [port]), backends, port)
        }

        @Test func exactNameGetsItsCertificateAndBackend() throws {
            let (proxy, _, port) = try start()
            defer { proxy.stop() }
            let outcome = try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                        sendText: "hi", halfClose: true))[0]
            #expect(outcome.ok, "\(outcome.error ?? "")\n\(proxy.log)")
            #expect(outcome.peer_subject_cn == "a.example.com")
            #expect(outcome.received_text == "backend-a\n")
        }

        @Test func wildcardMatchesOneLabelOnly() throws {
            let (proxy, _, port) = try start()
            defer { proxy.stop() }
            let one = try SClient.connect(port: port, servername: "x.wild.example.com", caFile: pki.serverCA)
            #expect(one.peerSubject?.contains("*.wild.example.com") == true, "\(one.output)")
            // Two labels under the wildcard do not match it: the listener default answers.
            let two = try SClient.connect(port: port, servername: "a.b.wild.example.com", caFile: pki.serverCA)
            #expect(two.peerSubject?.contains("default.example.com") == true, "\(two.output)")
            // Nor does the wildcard's own base name.
            let base = try SClient.connect(port: port, servername: "wild.example.com", caFile: pki.serverCA)
            #expect(base.peerSubject?.contains("default.example.com") == true, "\(base.output)")
        }

        @Test func unknownNameAndNoSNIGetTheDefaultHost() throws {
            let (proxy, _, port) = try start()
            defer { proxy.stop() }
            let unknown = try PythonTLSClient.run(.init(port: port, sni: "nobody.example.org", caFile: pki.serverCA,
                                                        sendText: "x"))[0]
            #expect(unknown.ok, "\(unknown.error ?? "")")
            #expect(unknown.peer_subject_cn == "default.example.com")
            #expect(unknown.received_text == "backend-default\n")
            let none = try SClient.connect(port: port, servername: nil, caFile: pki.serverCA)
            #expect(none.peerSubject?.contains("default.example.com") == true, "\(none.output)")
        }

        @Test func strictSNIRefusesUnknownNamesWithUnrecognizedName() throws {
            let (proxy, backends, port) = try start(strict: true)
            defer { proxy.stop() }
            let refused = try SClient.connect(port: port, servername: "nobody.example.org", caFile: pki.serverCA)
            #expect(!refused.handshakeSucceeded)
            #expect(refused.output.contains("unrecognized name"), "\(refused.output)")
            let known = try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA, sendText: "x"))[0]
            #expect(known.ok && known.peer_subject_cn == "a.example.com", "\(known.error ?? "")")
            usleep(200_000)
            #expect(backends["default"]!.acceptedCount == 0, "a refused name must never reach a backend")
        }

        @Test func curlReachesTheBackendThroughTheRightHost() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .http("hello from a\n"))
            var config = ProxyConfigBuilder()
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                                  backends: ["127.0.0.1:\(backend.port)"])]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a")]
            let proxy = try ProxyProcess(config: config.toml, waitForPorts: [port])
            defer { proxy.stop() }
            let result = try Curl.get(name: "a.example.com", port: port, caFile: pki.serverCA)
            #expect(result.status == 0, "\(result.stderr)\n\(proxy.log)")
            #expect(result.stdout == "hello from a\n")
        }

        @Test func rsaAndECDSACertificatesAreChosenByTheClientsSignatureAlgorithms() throws {
            let (proxy, _, port) = try start()
            defer { proxy.stop() }
            let ecdsa = try SClient.connect(port: port, servername: "b.example.com", caFile: pki.serverCA,
                                            extra: ["-sigalgs", "ECDSA+SHA256"])
            #expect(ecdsa.output.contains("Peer signature type: ECDSA"), "\(ecdsa.output)")
            let rsa = try SClient.connect(port: port, servername: "b.example.com", caFile: pki.serverCA,
                                          extra: ["-sigalgs", "rsa_pss_rsae_sha256:RSA+SHA256"])
            #expect(rsa.output.contains("Peer signature type: RSA-PSS"), "\(rsa.output)")
        }
    }
}
