import Foundation
import Testing
@testable import OpenSSLCrypto

/// Ports of pyOpenSSL's legacy `TestX509Req` (with the sign mixin) and `test_dump_certificate_request`,
/// cross-checked with `openssl req`.
@Suite struct X509ReqTests {
    /// A request for `CN=commonName` with `key`'s public half, signed with `key`.
    func signedRequest(commonName: String = "request", key: PKey) throws -> X509Req {
        let req = try X509Req()
        try req.getSubject().set("CN", commonName)
        try req.setPubkey(key)
        try req.sign(key: key, digest: "sha256")
        return req
    }

    @Test func versionIsZeroOnly() throws {
        let req = try X509Req()
        #expect(req.getVersion() == 0)
        try req.setVersion(0)
        #expect(req.getVersion() == 0)
        let error = expectThrowsCleanly { try req.setVersion(1) }
        #expect((error as? CryptoError)?.description == "invalid argument: Invalid version. The only valid version for X509Req is 0.")
    }

    @Test func subjectOutlivesTheRequest() throws {
        let subject: X509Name = try {
            let req = try X509Req()
            try req.getSubject().set("commonName", "foo")
            return req.getSubject()
        }()
        #expect(subject.commonName == "foo")
        try subject.set("CN", "bar")
        #expect(subject.commonName == "bar")
    }

    @Test func addedExtensionsComeBack() throws {
        let req = try X509Req()
        #expect(try req.getExtensions().isEmpty)
        try req.addExtensions([
            try X509Extension(typeName: "basicConstraints", critical: false, value: "CA:false"),
            try X509Extension(typeName: "keyUsage", critical: true, value: "digitalSignature"),
        ])
        let extensions = try req.getExtensions()
        #expect(extensions.count == 2)
        #expect(extensions.map { String(decoding: $0.getShortName(), as: UTF8.self) } == ["basicConstraints", "keyUsage"])
        #expect(extensions[0].getData() == [0x30, 0x00])
        #expect(extensions.map { $0.getCritical() } == [0, 1])
    }

    @Test func signRefusals() throws {
        let req = try X509Req()
        #expect(isInvalidArgument(expectThrowsCleanly { try req.sign(key: PKey(), digest: "sha256") }))
        let (_, key) = try generateKey()
        try req.setPubkey(key)
        let publicOnly = try req.getPubkey()
        #expect(publicOnly.isPublicOnly)
        #expect(isInvalidArgument(expectThrowsCleanly { try req.sign(key: publicOnly, digest: "sha256") }))
        #expect(isInvalidArgument(expectThrowsCleanly { try req.sign(key: key, digest: "monkeys") }))
    }

    @Test func verify() throws {
        let (_, key) = try generateKey()
        let (_, other) = try generateKey()
        let req = try signedRequest(key: key)
        #expect(try req.verify(key: key))
        #expect(try req.verify(key: req.getPubkey()))
        #expect(isOpenSSLError(expectThrowsCleanly { try req.verify(key: other) }), "wrong key")
        #expect(isInvalidArgument(expectThrowsCleanly { try req.verify(key: PKey()) }), "uninitialized key")

        let (_, rsa) = try generateKey(.rsa2048)
        let rsaRequest = try signedRequest(key: rsa)
        #expect(try rsaRequest.verify(key: rsa))
        let (_, otherRSA) = try generateKey(.rsa2048)
        #expect(isOpenSSLError(expectThrowsCleanly { try rsaRequest.verify(key: otherRSA) }))
    }

    @Test func requestBuiltHereIsVerifiedByTheCommandLine() throws {
        let (_, key) = try generateKey()
        let req = try signedRequest(commonName: "cli check", key: key)
        try req.addExtensions([try X509Extension(typeName: "subjectAltName", critical: false, value: "DNS:cli.example")])
        try req.sign(key: key, digest: "sha256")
        let pem = try Crypto.dumpCertificateRequest(.pem, req)
        let result = try openssl(["req", "-noout", "-verify", "-subject", "-text"], input: pem)
        #expect(result.stderr.contains("verify OK") || result.text.contains("verify OK"))
        #expect(result.text.contains("subject=CN = cli check"))
        #expect(result.text.contains("DNS:cli.example"))
    }

    @Test func commandLineRequestIsReadHere() throws {
        let dir = try TemporaryDirectory()
        let (keyPEM, key) = try generateKey()
        try dir.write("key.pem", keyPEM)
        let pem = try openssl(["req", "-new", "-key", "key.pem", "-subj", "/C=US/O=Portcullis/CN=from cli",
                               "-addext", "basicConstraints=critical,CA:FALSE"], in: dir).stdout
        let req = try Crypto.loadCertificateRequest(.pem, String(decoding: pem, as: UTF8.self))
        #expect(req.getSubject().commonName == "from cli")
        #expect(req.getSubject().organizationName == "Portcullis")
        #expect(try req.verify(key: key))
        let extensions = try req.getExtensions()
        #expect(extensions.count == 1)
        #expect(extensions.first?.getCritical() == 1)
        #expect(extensions.first?.description == "CA:FALSE")
    }

    @Test func dumpAndLoadRequest() throws {
        let dir = try TemporaryDirectory()
        let (keyPEM, _) = try generateKey()
        try dir.write("key.pem", keyPEM)
        let pem = try openssl(["req", "-new", "-key", "key.pem", "-subj", "/CN=dump"], in: dir).stdout
        let req = try Crypto.loadCertificateRequest(.pem, pem)

        #expect(try Crypto.dumpCertificateRequest(.pem, req) == pem)
        let der = try Crypto.dumpCertificateRequest(.asn1, req)
        #expect(der == (try openssl(["req", "-outform", "DER"], input: pem).stdout))
        #expect(try Crypto.dumpCertificateRequest(.pem, Crypto.loadCertificateRequest(.asn1, der)) == pem)

        let text = String(decoding: try Crypto.dumpCertificateRequest(.text, req), as: UTF8.self)
        #expect(text.hasPrefix("Certificate Request:\n"))
        #expect(text.contains("Subject: CN=dump"))

        #expect(isInvalidArgument(expectThrowsCleanly { try Crypto.loadCertificateRequest(.text, pem) }))
        #expect(isOpenSSLError(expectThrowsCleanly { try Crypto.loadCertificateRequest(.asn1, pem) }))
    }
}
