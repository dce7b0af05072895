import Foundation
import Testing

extension Integration {
    /// Bytes through the proxy: 10 MB each way at once, intact, and half-close in both directions.
    @Suite struct DataPath {
        let pki = IntegrationPKI.shared

        private func start(backend: TestBackend) throws -> (ProxyProcess, UInt16) {
            let port = Ports.free()
            var config = ProxyConfigBuilder()
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                                  backends: ["127.0.0.1:\(backend.port)"])]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a")]
            return (try ProxyProcess(config: config.toml, waitForPorts: [port]), port)
        }

        @Test func tenMegabytesEachWayAtTheSameTimeArriveIntact() throws {
            let size = 10 * 1024 * 1024
            var generator = SystemRandomNumberGenerator()
            let downstream = Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let backend = try TestBackend(mode: .sendAndReceive(downstream))
            let (proxy, port) = try start(backend: backend)
            defer { proxy.stop() }
            let outcome = try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                        sendBytes: size, halfClose: true, timeout: 120))[0]
            #expect(outcome.ok, "\(outcome.error ?? "")\n\(proxy.log)")
            // Backend -> client.
            #expect(outcome.received == size)
            #expect(outcome.received_sha256 == SHA256Hex.of(downstream))
            #expect(outcome.close == "close_notify", "the backend's clean close arrives as close_notify")
            // Client -> backend.
            let upstream = backend.waitForConnections(1, timeout: 30)
            #expect(upstream.first?.count == size)
            #expect(upstream.first.map(SHA256Hex.of) == (try PythonTLSClient.expectedPayloadSHA256(size)))
            // The access log counts the bytes.
            #expect(proxy.waitForLog("bytes_in=\(size)", timeout: 5) || proxy.waitForLog("\"bytes_in\":\(size)", timeout: 1),
                    "\(proxy.log.suffix(2000))")
        }

        @Test func halfCloseTravelsBothWays() throws {
            // The echo backend answers everything it got and closes only after it sees the client's EOF, so
            // the answer arrives after the client already sent close_notify.
            let backend = try TestBackend(mode: .echo)
            let (proxy, port) = try start(backend: backend)
            defer { proxy.stop() }
            let outcome = try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                        sendText: "half-closed hello", halfClose: true))[0]
            #expect(outcome.ok, "\(outcome.error ?? "")\n\(proxy.log)")
            #expect(outcome.received_text == "half-closed hello")
            #expect(outcome.close == "close_notify")
        }
    }
}

/// SHA-256 as lowercase hex, computed with the `openssl` CLI so the tests need no crypto dependency.
enum SHA256Hex {
    static func of(_ data: Data) -> String {
        guard let result = try? Run.command("/usr/bin/openssl", ["dgst", "-sha256", "-r"], inputData: data, timeout: 60)
        else { return "" }
        return String(result.stdout.prefix(64))
    }
}
