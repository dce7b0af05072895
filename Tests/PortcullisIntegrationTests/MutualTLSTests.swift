import Foundation
import Testing

extension Integration {
    /// The mutual-TLS gate: only clients with the right certificates get through, and nothing from a refused
    /// client reaches the backend.
    @Suite struct MutualTLS {
        let pki = IntegrationPKI.shared

        private func start(verify: String, allowList: Bool = true) throws -> (ProxyProcess, TestBackend, UInt16) {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            var host = ProxyConfigBuilder.Host(
                name: "gate", names: ["gate.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                backends: ["127.0.0.1:\(backend.port)"])
            host.extra["client_verify"] = tomlString(verify)
            if verify != "none" {
                host.extra["client_ca_file"] = tomlString(pki.clientCA)
                host.extra["client_crl_file"] = tomlString(pki.clientCRL)
                if allowList {
                    host.extra["allow_uri"] = tomlArray(["spiffe://example.com/good"])
                    host.extra["allow_ou"] = tomlArray(["gate"])
                }
            }
            var config = ProxyConfigBuilder()
            config.hosts = [host]
            config.listeners = [.init(name: "gate", port: port, hosts: ["gate"], defaultHost: "gate")]
            return (try ProxyProcess(config: config.toml, waitForPorts: [port]), backend, port)
        }

        private func attempt(_ port: UInt16, client: String?) throws -> PythonTLSClient.Outcome {
            try PythonTLSClient.run(.init(
                port: port, sni: "gate.example.com", caFile: pki.serverCA,
                certFile: client.map(pki.cert), keyFile: client.map(pki.key), sendText: "secret", halfClose: true,
                timeout: 10))[0]
        }

        /// A refused client: the handshake fails or the connection ends without any echo, and the backend
        /// never saw a byte.
        private func expectRefused(_ outcome: PythonTLSClient.Outcome, backend: TestBackend, _ comment: Comment) {
            #expect(!(outcome.ok && outcome.received_text == "secret"), comment)
            #expect(backend.connections.allSatisfy { $0.isEmpty }, "bytes reached the backend: \(comment)")
        }

        @Test func requireAdmitsOnlyTheRightClient() throws {
            let (proxy, backend, port) = try start(verify: "require")
            defer { proxy.stop() }
            for client in [nil, "other-ca-client", "expired", "revoked", "stranger"] as [String?] {
                let outcome = try attempt(port, client: client)
                expectRefused(outcome, backend: backend, "client \(client ?? "without certificate") was let through")
            }
            #expect(backend.acceptedCount == 0, "a refused client must not even open a backend connection")
            let good = try attempt(port, client: "good")
            #expect(good.ok, "\(good.error ?? "")\n\(proxy.log)")
            #expect(good.received_text == "secret")
            // Each refusal is logged with its reason.
            #expect(proxy.waitForLog("expired", timeout: 5) || proxy.waitForLog("has expired", timeout: 1), "\(proxy.log)")
            #expect(proxy.waitForLog("revoked", timeout: 5), "\(proxy.log)")
        }

        @Test func optionalAdmitsAnonymousClientsButStillChecksPresentedCertificates() throws {
            let (proxy, backend, port) = try start(verify: "optional", allowList: false)
            defer { proxy.stop() }
            let anonymous = try attempt(port, client: nil)
            #expect(anonymous.ok && anonymous.received_text == "secret", "\(anonymous.error ?? "")\n\(proxy.log)")
            let good = try attempt(port, client: "good")
            #expect(good.ok && good.received_text == "secret", "\(good.error ?? "")")
            let foreign = try attempt(port, client: "other-ca-client")
            #expect(!(foreign.ok && foreign.received_text == "secret"), "a certificate from an unknown CA must be refused")
            _ = backend
        }

        @Test func noneNeverAsksForACertificate() throws {
            let (proxy, _, port) = try start(verify: "none")
            defer { proxy.stop() }
            let outcome = try SClient.connect(port: port, servername: "gate.example.com", caFile: pki.serverCA)
            #expect(outcome.handshakeSucceeded, "\(outcome.output)")
            #expect(outcome.output.contains("No client certificate CA names sent"), "\(outcome.output)")
        }
    }
}
