import Foundation
import Testing

extension Integration {
    /// `portcullis check`: exit 0 for a good config, 1 with a precise message for a broken one.
    @Suite struct CheckCommand {
        let pki = IntegrationPKI.shared

        private func check(_ toml: String) throws -> Run.Result {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pc-check-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let path = directory.appendingPathComponent("broken.toml").path
            try toml.write(toFile: path, atomically: true, encoding: .utf8)
            return try Run.command(BinaryLocator.portcullis.path, ["check", "--config", path], timeout: 30)
        }

        private func baseConfig(cert: String? = nil, key: String? = nil, hostExtra: [String: String] = [:]) -> ProxyConfigBuilder {
            var config = ProxyConfigBuilder()
            config.hosts = [.init(name: "a", names: ["a.example.com"],
                                  certificates: [(cert ?? pki.cert("a"), key ?? pki.key("a"))],
                                  backends: ["127.0.0.1:9"], extra: hostExtra)]
            config.listeners = [.init(name: "tls", port: 8443, hosts: ["a"], defaultHost: "a")]
            return config
        }

        @Test func aGoodConfigPasses() throws {
            let result = try check(baseConfig().toml)
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        }

        @Test func aMissingCertificateFileIsNamed() throws {
            let result = try check(baseConfig(cert: "/nonexistent/a.crt").toml)
            #expect(result.status == 1)
            let output = result.stdout + result.stderr
            #expect(output.contains("/nonexistent/a.crt"), "\(output)")
            #expect(output.contains("certificate"), "\(output)")
        }

        @Test func aKeyThatDoesNotMatchTheCertificateIsRefused() throws {
            let result = try check(baseConfig(cert: pki.cert("a"), key: pki.key("default")).toml)
            #expect(result.status == 1)
            let output = result.stdout + result.stderr
            #expect(output.contains("match") || output.contains("mismatch"), "\(output)")
        }

        @Test func aCAFileThatDoesNotParseIsRefused() throws {
            let garbage = FileManager.default.temporaryDirectory.appendingPathComponent("garbage-\(UUID().uuidString).pem").path
            try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
            let result = try check(baseConfig(hostExtra: ["client_verify": tomlString("require"),
                                                          "client_ca_file": tomlString(garbage)]).toml)
            #expect(result.status == 1)
            #expect((result.stdout + result.stderr).contains(garbage), "\(result.stdout)\(result.stderr)")
        }

        @Test func aTOMLSyntaxErrorNamesTheLine() throws {
            let result = try check("[global]\nworkers = 2\n\n[[listener]\nname = \"x\"\n")
            #expect(result.status == 1)
            #expect((result.stdout + result.stderr).contains("broken.toml:4:"), "\(result.stdout)\(result.stderr)")
        }

        @Test func anUnknownKeyIsNamedWithASuggestion() throws {
            var config = baseConfig()
            config.global["max_conections"] = "10"
            let result = try check(config.toml)
            #expect(result.status == 1)
            let output = result.stdout + result.stderr
            #expect(output.contains("max_conections") && output.contains("max_connections"), "\(output)")
        }

        @Test func aWrongValueTypeSaysWhatWasExpected() throws {
            var config = baseConfig()
            config.global["handshake_timeout"] = tomlString("soon")
            let result = try check(config.toml)
            #expect(result.status == 1)
            let output = result.stdout + result.stderr
            #expect(output.contains("handshake_timeout") && output.contains("duration"), "\(output)")
        }

        @Test func everySampleConfigPasses() throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let samples = root.appendingPathComponent("etc/portcullis")
            let files = try FileManager.default.contentsOfDirectory(atPath: samples.path).filter { $0.hasSuffix(".toml") }
            #expect(!files.isEmpty)
            for file in files {
                let result = try Run.command(BinaryLocator.portcullis.path,
                                             ["check", "--config", samples.appendingPathComponent(file).path], timeout: 60)
                #expect(result.status == 0, "\(file): \(result.stdout)\(result.stderr)")
            }
        }
    }
}
