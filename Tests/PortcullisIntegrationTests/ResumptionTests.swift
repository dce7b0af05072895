import Foundation
import Testing

extension Integration {
    /// Session resumption by ticket and by session id, and never across hosts with different client policies.
    @Suite struct Resumption {
        let pki = IntegrationPKI.shared

        private func start(tickets: Bool = true) throws -> (ProxyProcess, UInt16) {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            var open = ProxyConfigBuilder.Host(name: "open", names: ["a.example.com"],
                                               certificates: [(pki.cert("a"), pki.key("a"))],
                                               backends: ["127.0.0.1:\(backend.port)"])
            open.extra["client_verify"] = tomlString("none")
            var gate = ProxyConfigBuilder.Host(name: "gate", names: ["gate.example.com"],
                                               certificates: [(pki.cert("a"), pki.key("a"))],
                                               backends: ["127.0.0.1:\(backend.port)"])
            gate.extra["client_verify"] = tomlString("require")
            gate.extra["client_ca_file"] = tomlString(pki.clientCA)
            var config = ProxyConfigBuilder()
            config.hosts = [open, gate]
            config.listeners = [.init(name: "tls", port: port, hosts: ["open", "gate"], defaultHost: "open",
                                      extra: ["session_tickets": tickets ? "true" : "false"])]
            let proxy = try ProxyProcess(config: config.toml, waitForPorts: [port])
            return (proxy, port)
        }

        private func twoConnections(_ port: UInt16, version: String, sni: [String], cert: String? = nil) throws -> [PythonTLSClient.Outcome] {
            try PythonTLSClient.run(.init(port: port, sni: sni[0], caFile: pki.serverCA,
                                          certFile: cert.map(pki.cert), keyFile: cert.map(pki.key),
                                          minVersion: version, maxVersion: version, sendText: "ping", halfClose: true,
                                          connections: 2, perConnectionSNI: sni))
        }

        @Test func ticketsResumeOverTLS13() throws { try ticketsResume(version: "1.3") }
        @Test func ticketsResumeOverTLS12() throws { try ticketsResume(version: "1.2") }

        private func ticketsResume(version: String) throws {
            let (proxy, port) = try start()
            defer { proxy.stop() }
            let outcomes = try twoConnections(port, version: version, sni: ["a.example.com", "a.example.com"])
            #expect(outcomes.allSatisfy { $0.ok }, "\(outcomes.map { $0.error ?? "" })\n\(proxy.log)")
            #expect(outcomes[0].reused == false)
            #expect(outcomes[1].reused == true, "TLS \(version) ticket resumption")
            #expect(outcomes[1].received_text == "ping")
            #expect(proxy.waitForLog("resumed=true", timeout: 5), "the access log records resumption\n\(proxy.log)")
        }

        @Test func sessionIDsResumeWhenTicketsAreOff() throws {
            let (proxy, port) = try start(tickets: false)
            defer { proxy.stop() }
            let outcomes = try twoConnections(port, version: "1.2", sni: ["a.example.com", "a.example.com"])
            #expect(outcomes.allSatisfy { $0.ok }, "\(outcomes.map { $0.error ?? "" })")
            #expect(outcomes[1].reused == true, "TLS 1.2 session-id resumption")
        }

        @Test func aTLS13SessionFromAnOpenHostNeverResumesOnAGatedHost() throws { try crossHost(version: "1.3") }
        @Test func aTLS12SessionFromAnOpenHostNeverResumesOnAGatedHost() throws { try crossHost(version: "1.2") }

        private func crossHost(version: String) throws {
            let (proxy, port) = try start()
            defer { proxy.stop() }
            // The second connection offers the open host's session to the gate, without a client certificate.
            let outcomes = try twoConnections(port, version: version, sni: ["a.example.com", "gate.example.com"])
            #expect(outcomes[0].ok && outcomes[0].reused == false)
            #expect(outcomes[1].reused != true, "resumption must never bypass client verification")
            #expect(!(outcomes[1].ok && outcomes[1].received_text == "ping"), "the gate let a client without certificate through")
        }
    }
}
