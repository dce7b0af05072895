import Foundation
import Testing
@testable import PortcullisCore

/// `portcullis check` and `portcullis version`, run as the real binary SwiftPM built.
@Suite struct CLICheckTests {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static var binary: URL {
        // Test bundles and executables share SwiftPM's build directory.
        var url = URL(fileURLWithPath: CommandLine.arguments[0])
        for _ in 0..<5 {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("portcullis")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("portcullis")
    }

    func portcullis(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    func writeConfig(_ text: String) throws -> String {
        let directory = NSTemporaryDirectory() + "portcullis-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/portcullis.toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func checkAcceptsAValidConfiguration() throws {
        let pki = try HostPKI.shared()
        let path = try writeConfig("""
            [[listener]]
            listen = "127.0.0.1:0"
            [[host]]
            name = "www"
            names = ["www.example.com"]
            certificate = "\(pki.www.certificate)"
            key = "\(pki.www.key)"
            backend = "127.0.0.1:8080"
            client_verify = "optional"
            client_ca_file = "\(pki.ca.certificate)"
            [[host]]
            name = "api"
            names = ["api.example.com"]
            certificate = "\(pki.www.certificate)"
            key = "\(pki.www.key)"
            backend = [{ address = "127.0.0.1:8081", weight = 2 }, "127.0.0.1:8082"]
            balance = "first"
            health_check_interval = "2s"
            """)
        let result = try portcullis(["check", "--config", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\(path): OK"))
        #expect(result.stdout.contains("host www: www.example.com -> 127.0.0.1:8080; client_verify optional"))
        #expect(result.stdout.contains("host api: api.example.com -> 127.0.0.1:8081 (weight 2), 127.0.0.1:8082 (first), checked every 2s; client_verify none"),
                "\(result.stdout)")
        #expect(try portcullis(["check", "--quiet", "--config", path]).stdout.isEmpty)
    }

    @Test func checkRejectsBrokenConfigurationsWithPreciseMessages() throws {
        let pki = try HostPKI.shared()
        let syntax = try writeConfig("[global]\nworkers = \n")
        let syntaxResult = try portcullis(["check", "--config", syntax])
        #expect(syntaxResult.status == 1)
        #expect(syntaxResult.stderr.hasPrefix("\(syntax):2:"))

        let semantic = try writeConfig("""
            [[listener]]
            listen = "127.0.0.1:0"
            [[host]]
            name = "www"
            certificate = "\(pki.www.certificate)"
            key = "\(pki.api.key)"
            backend = "127.0.0.1:8080"
            client_verfy = "require"
            """)
        let semanticResult = try portcullis(["check", "--config", semantic])
        #expect(semanticResult.status == 1)
        #expect(semanticResult.stderr.contains("\(semantic):8: host[0].client_verfy: unknown key (did you mean 'client_verify'?)"))

        let mismatch = try writeConfig("""
            [[listener]]
            listen = "127.0.0.1:0"
            [[host]]
            name = "www"
            certificate = "\(pki.www.certificate)"
            key = "\(pki.api.key)"
            backend = "127.0.0.1:8080"
            """)
        let mismatchResult = try portcullis(["check", "--config", mismatch])
        #expect(mismatchResult.status == 1)
        #expect(mismatchResult.stderr.contains("\(mismatch):5: host[0].certificate: private key \(pki.api.key) does not match certificate \(pki.www.certificate)"))

        let missing = try portcullis(["check", "--config", "/nonexistent/portcullis.toml"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("/nonexistent/portcullis.toml: cannot read the configuration file: No such file or directory"))
    }

    @Test func checkReportsACRLFileThatDoesNotParse() throws {
        let pki = try HostPKI.shared()
        let crl = try CRLPKI.shared()
        func config(_ crlFile: String) throws -> String {
            try writeConfig("""
                [[listener]]
                listen = "127.0.0.1:0"
                [[host]]
                name = "api"
                certificate = "\(pki.api.certificate)"
                key = "\(pki.api.key)"
                backend = "127.0.0.1:8080"
                client_verify = "require"
                client_ca_file = "\(crl.ca.certificate)"
                client_crl_file = "\(crlFile)"
                """)
        }
        let good = try config(crl.crlAfter)
        let accepted = try portcullis(["check", "--config", good])
        #expect(accepted.status == 0, "\(accepted.stderr)")

        let garbage = crl.directory + "/check-garbage-\(UUID().uuidString).crl"
        try Data("-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n".utf8).write(to: URL(fileURLWithPath: garbage))
        let broken = try config(garbage)
        let refused = try portcullis(["check", "--config", broken])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("\(broken):10: host[0].client_crl_file: cannot read CRL file \(garbage)"), "\(refused.stderr)")
    }

    @Test func checkCreatesTheFirstRunCertificateAndSaysSo() throws {
        let path = try writeConfig("""
            [[listener]]
            listen = "127.0.0.1:0"
            [[host]]
            name = "dev"
            certificate = "certs/dev.crt"
            key = "certs/dev.key"
            self_signed_if_missing = true
            backend = "127.0.0.1:8080"
            """)
        let result = try portcullis(["check", "--config", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("created a self-signed development certificate"))
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        #expect(FileManager.default.fileExists(atPath: directory + "/certs/dev.crt"))
    }

    @Test func theSampleConfigurationChecks() throws {
        // The sample must stay valid; run it from a copy so the repository gets no generated certificates.
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("etc/portcullis/portcullis.toml")
        let path = try writeConfig(try String(contentsOf: source, encoding: .utf8))
        let result = try portcullis(["check", "--config", path])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func versionNamesBothOpenSSLVersions() throws {
        let result = try portcullis(["version"])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first == "portcullis \(PortcullisVersion.string)")
        #expect(lines.contains { $0.hasPrefix("OpenSSL (running): OpenSSL 3.") && $0.contains("(0x3") })
        #expect(lines.contains { $0.hasPrefix("OpenSSL (built against): OpenSSL 3.") })
    }
}
