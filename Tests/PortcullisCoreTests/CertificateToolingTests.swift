import Foundation
import Glibc
import OpenSSLCrypto
import Testing
@testable import PortcullisCore

@Suite struct CertificateToolingTests {
    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "portcullis-certtool-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func issuedCertificatesVerifyAgainstTheCA() throws {
        for kind in [CertificateIssuer.KeyKind.ecdsaP256, .rsa(bits: 2048)] {
            let caKey = try CertificateIssuer.generateKey(kind)
            let ca = try CertificateIssuer.issue(subject: DistinguishedName(parsing: "/O=Test/CN=Test CA"), publicKey: caKey,
                                                 profile: .certificateAuthority, days: 30, issuer: nil)
            #expect(ca.isCertificateAuthority)
            let key = try CertificateIssuer.generateKey(kind)
            let server = try CertificateIssuer.issue(
                subject: DistinguishedName(commonName: "localhost"), publicKey: key,
                profile: .server([.dns("localhost"), .ip("127.0.0.1"), .ip("::1")]), days: 30, issuer: (ca, caKey))
            #expect(!server.isCertificateAuthority)
            let store = try X509Store()
            try store.addCert(ca)
            try X509StoreContext(store: store, certificate: server).verifyCertificate()
            let text = CertificateInspector.certificateLines(server, now: Date())
            #expect(text.contains("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"), "\(text)")
            #expect(text.contains("TLS Web Server Authentication"), "\(text)")
            #expect(text.contains("expires in 29 days") || text.contains("expires in 30 days"), "\(text)")
            #expect(CertificateInspector.keyMatches(key, server) == true)
            #expect(CertificateInspector.keyMatches(caKey, server) == false)
        }
    }

    @Test func aLeafCannotSignAndAForeignKeyIsRefused() throws {
        let caKey = try CertificateIssuer.generateKey(.ecdsaP256)
        let ca = try CertificateIssuer.issue(subject: DistinguishedName(commonName: "CA"), publicKey: caKey,
                                             profile: .certificateAuthority, days: 1, issuer: nil)
        let leafKey = try CertificateIssuer.generateKey(.ecdsaP256)
        let leaf = try CertificateIssuer.issue(subject: DistinguishedName(commonName: "x"), publicKey: leafKey,
                                               profile: .client([]), days: 1, issuer: (ca, caKey))
        #expect(throws: CertificateToolError.self) {
            try CertificateIssuer.issue(subject: DistinguishedName(commonName: "y"), publicKey: leafKey,
                                        profile: .client([]), days: 1, issuer: (leaf, leafKey))
        }
        #expect(throws: CertificateToolError.self) {
            try CertificateIssuer.issue(subject: DistinguishedName(commonName: "y"), publicKey: leafKey,
                                        profile: .client([]), days: 1, issuer: (ca, leafKey))
        }
        #expect(throws: CertificateToolError.self) { try CertificateIssuer.generateKey(.rsa(bits: 1024)) }
    }

    @Test func subjectsParseInBothForms() throws {
        let slash = try DistinguishedName(parsing: "/C=DE/O=Example\\/Sub/CN=www.example.com")
        #expect(slash.attributes.map(\.field) == ["C", "O", "CN"])
        #expect(slash.attributes[1].value == "Example/Sub")
        let comma = try DistinguishedName(parsing: "CN=www.example.com, O=Example\\, Inc.")
        #expect(comma.attributes.map(\.value) == ["www.example.com", "Example, Inc."])
        #expect(try comma.x509Name().oneline == "/CN=www.example.com/O=Example, Inc.")
        #expect(throws: CertificateToolError.self) { try DistinguishedName(parsing: "") }
        #expect(throws: CertificateToolError.self) { try DistinguishedName(parsing: "CN") }
        #expect(throws: CertificateToolError.self) { try DistinguishedName(parsing: "/XX=1") }
        #expect(throws: CertificateToolError.self) { try DistinguishedName(parsing: "CN=a,CN=b").x509Name() }
    }

    @Test func subjectAltNamesAreDetectedAndChecked() throws {
        #expect(try SubjectAltName(parsing: "www.example.com") == .dns("www.example.com"))
        #expect(try SubjectAltName(parsing: "192.0.2.1") == .ip("192.0.2.1"))
        #expect(try SubjectAltName(parsing: "2001:db8::1") == .ip("2001:db8::1"))
        #expect(try SubjectAltName(parsing: "uri:spiffe://example.org/a") == .uri("spiffe://example.org/a"))
        #expect(try SubjectAltName(parsing: "email:a@example.org") == .email("a@example.org"))
        #expect(try SubjectAltName.forName("*.example.com") == .dns("*.example.com"))
        for bad in ["a,b", "a b", "a.*.com", "IP:300.1.1.1", "URI:nocolon", "email:nope", "DNS:", "bad_char!"] {
            #expect(throws: CertificateToolError.self, "\(bad)") { try SubjectAltName(parsing: bad) }
        }
        #expect(DevelopmentPKI.fileBaseName(for: "*.example.com") == "wildcard.example.com")
        #expect(DevelopmentPKI.fileBaseName(for: "a/../b") == "a_.._b")
    }

    @Test func keysAreCreatedPrivateAndNeverOverwrittenSilently() throws {
        let directory = try temporaryDirectory()
        let written = try DevelopmentPKI.createCA(directory: directory, subject: DistinguishedName(commonName: "CA"),
                                                  keyKind: .ecdsaP256, days: 10, force: false)
        var info = stat()
        #expect(stat(written.key, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(stat(written.certificate, &info) == 0 && info.st_mode & 0o777 == 0o644 & ~umaskValue())
        let before = try OutputFile.read(written.key, what: "key")
        #expect(throws: CertificateToolError.self) {
            try DevelopmentPKI.createCA(directory: directory, subject: DistinguishedName(commonName: "CA"),
                                        keyKind: .ecdsaP256, days: 10, force: false)
        }
        #expect(try OutputFile.read(written.key, what: "key") == before)
        // A symlink planted where a key goes is not followed, even with --force it is replaced, not written through.
        let target = directory + "/elsewhere"
        try "keep".write(toFile: target, atomically: true, encoding: .utf8)
        symlink(target, directory + "/planted.key")
        #expect(throws: CertificateToolError.self) {
            try OutputFile.write([1, 2, 3], to: directory + "/planted.key", mode: OutputFile.privateMode)
        }
        try OutputFile.write([1, 2, 3], to: directory + "/planted.key", mode: OutputFile.privateMode, overwrite: true)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep")
        let server = try DevelopmentPKI.createLeaf(
            subject: DistinguishedName(commonName: "localhost"), profile: .server([.dns("localhost")]), baseName: "localhost",
            directory: directory, caCertificate: written.certificate, caKey: written.key, keyKind: .ecdsaP256, days: 5, force: false)
        #expect(stat(server.key, &info) == 0 && info.st_mode & 0o777 == 0o600)
    }

    @Test func csrAndPKCS12RoundTrip() throws {
        let key = try CertificateIssuer.generateKey(.ecdsaP256)
        let pem = try CertificateRequestBuilder.make(key: key, subject: DistinguishedName(parsing: "/O=Example/CN=api.example.com"),
                                                     names: [.dns("api.example.com"), .ip("10.0.0.1")])
        let summary = try CertificateInspector.describe(pem, name: "api.csr", password: nil)
        #expect(summary.contains("/O=Example/CN=api.example.com") && summary.contains("DNS:api.example.com, IP Address:10.0.0.1"), "\(summary)")
        #expect(summary.contains("valid (self-signed by the key)"), "\(summary)")

        let caKey = try CertificateIssuer.generateKey(.ecdsaP256)
        let ca = try CertificateIssuer.issue(subject: DistinguishedName(commonName: "CA"), publicKey: caKey,
                                             profile: .certificateAuthority, days: 1, issuer: nil)
        let client = try CertificateIssuer.issue(subject: DistinguishedName(commonName: "alice"), publicKey: key,
                                                 profile: .client([.uri("spiffe://example.org/alice")]), days: 1, issuer: (ca, caKey))
        let bundle = try PKCS12Bundler.make(certificate: client, key: key, caCertificates: [ca], password: Array("pw".utf8), friendlyName: "alice")
        let opened = try CertificateInspector.describe(bundle, name: "a.p12", password: Array("pw".utf8))
        #expect(opened.contains("Friendly name") && opened.contains("URI:spiffe://example.org/alice"), "\(opened)")
        #expect(opened.contains("yes, the key belongs to the certificate") && opened.contains("CA certificate 1"), "\(opened)")
        #expect(throws: CertificateToolError.self) { try CertificateInspector.describe(bundle, name: "a.p12", password: nil) }
        #expect(throws: CertificateToolError.self) { try CertificateInspector.describe(bundle, name: "a.p12", password: Array("no".utf8)) }
        #expect(throws: CertificateToolError.self) {
            try PKCS12Bundler.make(certificate: client, key: caKey, caCertificates: [], password: Array("pw".utf8), friendlyName: nil)
        }
        #expect(throws: CertificateToolError.self) {
            try PKCS12Bundler.make(certificate: client, key: key, caCertificates: [], password: [], friendlyName: nil)
        }
        let der = try Crypto.dumpCertificate(.asn1, client)
        #expect(try CertificateInspector.describe(der, name: "c.der", password: nil).contains("DER certificate"))
        #expect(throws: CertificateToolError.self) { try CertificateInspector.describe(Array("junk".utf8), name: "j", password: nil) }
        #expect(throws: CertificateToolError.self) { try CertificateInspector.describe([], name: "e", password: nil) }
    }
}

private func umaskValue() -> mode_t {
    let current = umask(0o022)
    umask(current)
    return current
}
