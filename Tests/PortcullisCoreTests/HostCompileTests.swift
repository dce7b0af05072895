import Foundation
import Logging
import OpenSSLCrypto
import Testing
@testable import OpenSSLSSL
@testable import PortcullisCore

/// Errors and warnings found while certificates and keys are loaded.
@Suite struct HostCompileTests {
    let pki: HostPKI
    let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws { pki = try HostPKI.shared() }

    func compileErrors(_ host: HostConfiguration) -> [ConfigurationDiagnostic] {
        do {
            _ = try HostTable.compile(proxyConfiguration([host], defaultHost: host.name), logger: quiet)
            Issue.record("expected a compile error")
            return []
        } catch {
            return error.diagnostics
        }
    }

    @Test func keyThatDoesNotMatchItsCertificate() {
        var host = hostConfiguration("www", pki.www, names: [])
        host.certificates = [CertificateConfiguration(chainFile: pki.www.certificate, keyFile: pki.api.key)]
        let found = compileErrors(host)
        #expect(found.count == 1)
        #expect(found.first?.keyPath == "host[0].certificates[0]")
        #expect(found.first?.message.contains("private key \(pki.api.key) does not match certificate \(pki.www.certificate)") == true)
        #expect(found.first?.message.contains("key values mismatch") == true)
    }

    @Test func missingFilesAreNamed() {
        var host = hostConfiguration("www", pki.www, names: [])
        host.certificates = [CertificateConfiguration(chainFile: "/nonexistent/www.pem", keyFile: pki.www.key)]
        let found = compileErrors(host)
        #expect(found.first?.message.contains("cannot load certificate chain /nonexistent/www.pem") == true)
        host.certificates = [CertificateConfiguration(chainFile: pki.www.certificate, keyFile: "/nonexistent/www.key")]
        #expect(compileErrors(host).first?.message == "cannot read private key /nonexistent/www.key: No such file or directory")
    }

    /// Whether a key is encrypted decides how a failed load is explained (a wrong passphrase sometimes
    /// decrypts to garbage with valid padding, and then fails as DER, not as "bad decrypt").
    @Test func encryptedPEMKeysAreRecognisedInBothForms() throws {
        #expect(CredentialLoader.isEncryptedPEM(try LocalFile.read(pki.encryptedKey)))
        #expect(!CredentialLoader.isEncryptedPEM(try LocalFile.read(pki.www.key)))
        let traditional = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"
        #expect(CredentialLoader.isEncryptedPEM(Array(traditional.utf8)))
    }

    @Test func encryptedKeysNeedTheRightPassphrase() throws {
        var host = hostConfiguration("www", pki.www, names: [])
        host.certificates = [CertificateConfiguration(chainFile: pki.www.certificate, keyFile: pki.encryptedKey)]
        #expect(compileErrors(host).first?.message.contains("is encrypted: set key_passphrase_file or key_passphrase_env") == true)

        let wrong = pki.directory + "/wrong.pass"
        try "nope\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        host.certificates[0].passphrase = .file(wrong)
        #expect(compileErrors(host).first?.message.contains("wrong passphrase for private key") == true)

        let right = pki.directory + "/right.pass"
        try "s3cret\r\n".write(toFile: right, atomically: true, encoding: .utf8)
        host.certificates[0].passphrase = .file(right)
        _ = try HostTable.compile(proxyConfiguration([host], defaultHost: "www"), logger: quiet)

        setenv("PORTCULLIS_TEST_PASS", "s3cret", 1)
        host.certificates[0].passphrase = .environment("PORTCULLIS_TEST_PASS")
        _ = try HostTable.compile(proxyConfiguration([host], defaultHost: "www"), logger: quiet)
        host.certificates[0].passphrase = .environment("PORTCULLIS_TEST_PASS_UNSET")
        #expect(compileErrors(host).first?.message == "environment variable PORTCULLIS_TEST_PASS_UNSET (key_passphrase_env) is not set")
    }

    @Test func twoCertificatesOfOneKeyTypeAreRefused() {
        var host = hostConfiguration("www", pki.www, names: [])
        host.certificates.append(CertificateConfiguration(chainFile: pki.api.certificate, keyFile: pki.api.key))
        let found = compileErrors(host)
        #expect(found.first?.message.contains("a second certificate with a ECDSA key") == true)
    }

    @Test func badCipherAndGroupStringsAreNamed() {
        var host = hostConfiguration("www", pki.www, names: [], tls: TLSSettings(ciphers: "NOT-A-CIPHER", groups: "P-999"))
        host.tls.ciphersuites = "TLS_NOPE"
        let found = compileErrors(host)
        #expect(Set(found.compactMap(\.keyPath)) == ["host[0].ciphers", "host[0].ciphersuites", "host[0].groups"])
    }

    @Test func unreadableCAFileIsNamed() {
        let host = hostConfiguration("www", pki.www, names: [], client: ClientPolicyConfiguration(verify: .require, caFile: "/nonexistent/ca.pem"))
        let found = compileErrors(host)
        #expect(found.contains { $0.keyPath == "host[0].client_ca_file" && $0.message.hasPrefix("cannot load client CAs") })
    }

    @Test func compileErrorsCarryTheLineOfTheKey() throws {
        let directory = pki.directory + "/conf-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/p.toml"
        try """
            [[listener]]
            listen = "127.0.0.1:0"

            [[host]]
            name = "www"
            certificate = "\(pki.www.certificate)"
            key = "\(pki.api.key)"
            backend = "127.0.0.1:1"
            """.write(toFile: file, atomically: true, encoding: .utf8)
        do {
            _ = try HostTable.load(file: file, logger: quiet)
            Issue.record("expected an error")
        } catch {
            #expect(error.diagnostics.first?.line == 6)
            #expect(error.diagnostics.first?.description.hasPrefix("\(file):6: host[0].certificate: private key") == true)
        }
    }

    @Test func keyFilesReadableByOthersAreWarnedAbout() throws {
        let exposed = pki.directory + "/exposed.key"
        try FileManager.default.copyItem(atPath: pki.www.key, toPath: exposed)
        chmod(exposed, 0o644)
        let log = CapturedLog()
        var host = hostConfiguration("www", pki.www, names: [])
        host.certificates = [CertificateConfiguration(chainFile: pki.www.certificate, keyFile: exposed)]
        _ = try HostTable.compile(proxyConfiguration([host], defaultHost: "www"), logger: capturingLogger(log))
        #expect(log.messages.contains { $0.hasPrefix("warning private key file is accessible by other users") && $0.contains(exposed) })

        let privateLog = CapturedLog()
        _ = try HostTable.compile(proxyConfiguration([hostConfiguration("www", pki.www, names: [])], defaultHost: "www"), logger: capturingLogger(privateLog))
        #expect(!privateLog.messages.contains { $0.contains("accessible by other users") })
    }

    @Test func aKeySharedWithTheProxysOwnGroupIsFineAnotherGroupIsNot() throws {
        let shared = pki.directory + "/group-\(UUID().uuidString).key"
        try FileManager.default.copyItem(atPath: pki.www.key, toPath: shared)
        chmod(shared, 0o640)
        let group = try #require(LocalFile.ownership(shared)).group
        let quietLog = CapturedLog()
        // root:portcullis 0640 for a proxy running in group portcullis: what the README tells operators to do.
        #expect(!CredentialLoader.warnIfExposed(shared, logger: capturingLogger(quietLog), processGroups: [group]))
        #expect(quietLog.messages.isEmpty)
        let log = CapturedLog()
        #expect(CredentialLoader.warnIfExposed(shared, logger: capturingLogger(log), processGroups: [group &+ 1]))
        #expect(log.messages.contains { $0.contains("its group (gid \(group)) is not one the proxy runs in") }, "\(log.messages)")
        // Others may never read it, whatever the group.
        chmod(shared, 0o644)
        #expect(CredentialLoader.warnIfExposed(shared, logger: capturingLogger(log), processGroups: [group]))
        #expect(log.messages.contains { $0.contains("every user on the machine can access it") })
    }

    @Test func contextsGetTheSecureDefaults() throws {
        let table = try HostTable.compile(proxyConfiguration([hostConfiguration("www", pki.www, names: [])], defaultHost: "www"), logger: quiet)
        for context in [table.hosts[0].context, table.listeners[0].context] {
            let options = context.getOptions()
            #expect(options & SSL.OP_NO_COMPRESSION != 0)
            #expect(options & SSL.OP_NO_RENEGOTIATION != 0)
            #expect(options & SSL.OP_CIPHER_SERVER_PREFERENCE != 0)
            #expect(context.getMinProtoVersion() == SSL.TLS1_2_VERSION)
        }
        #expect(table.listeners[0].context.getTimeout() == 300)
        #expect(table.listeners[0].context.sessCacheSize() == 20_480)
        let outcome = try handshake(listener: table.listeners[0], serverName: nil) { try $0.setMaxProtoVersion(SSL.TLS1_1_VERSION) }
        #expect(!outcome.succeeded)  // TLS 1.1 is refused by default
    }

    @Test func firstRunCreatesAWorkingDevelopmentCertificate() throws {
        let directory = pki.directory + "/dev-\(UUID().uuidString)"
        let log = CapturedLog()
        var host = hostConfiguration("dev", HostPKI.Identity(certificate: directory + "/dev.crt", key: directory + "/dev.key"), names: ["localhost"])
        host.selfSignedIfMissing = true
        let configuration = proxyConfiguration([host], defaultHost: "dev")
        try FirstRun.prepare(configuration, logger: capturingLogger(log))
        #expect(log.messages.contains { $0.contains("created a self-signed development certificate") })
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/dev.key")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        try HostPKI.openssl(["verify", "-CAfile", directory + "/dev.crt", "-purpose", "sslserver", directory + "/dev.crt"])
        let text = try HostPKI.openssl(["x509", "-noout", "-text", "-in", directory + "/dev.crt"])
        for expected in ["Version: 3 (0x2)", "Signature Algorithm: ecdsa-with-SHA256", "Subject: CN = localhost", "NIST CURVE: P-256",
                         "X509v3 Basic Constraints: critical", "CA:FALSE", "X509v3 Key Usage: critical", "Digital Signature",
                         "TLS Web Server Authentication", "DNS:localhost, IP Address:127.0.0.1"] {
            #expect(text.contains(expected), "openssl x509 -text lacks \(expected)")
        }
        let certificate = try Crypto.loadCertificate(.pem, Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/dev.crt"))))
        #expect(try certificate.subjectAltNames() == [.dns("localhost"), .ip([127, 0, 0, 1])])
        #expect(try certificate.getSubject().entries(.commonName) == ["localhost"])
        #expect(try Crypto.loadPrivateKey(.pem, Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/dev.key")))).type() == Crypto.TYPE_EC)
        // A second run keeps the files.
        let before = try Data(contentsOf: URL(fileURLWithPath: directory + "/dev.crt"))
        try FirstRun.prepare(configuration, logger: quiet)
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/dev.crt")) == before)
        let table = try HostTable.compile(configuration, logger: quiet)
        let outcome = try handshake(listener: table.listeners[0], serverName: "localhost", trust: directory + "/dev.crt") {
            try $0.setVerify(SSL.VERIFY_PEER)
        }
        #expect(outcome.succeeded)
        #expect(outcome.client.getVerifyResult() == 0)
    }
}
