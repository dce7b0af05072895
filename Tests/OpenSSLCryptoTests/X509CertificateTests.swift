import Foundation
import Testing
@testable import OpenSSLCrypto

/// Ports of pyOpenSSL's `TestX509`, `TestLoadCertificate` and `test_dump_certificate`, with command-line
/// cross-checks in both directions.
@Suite struct X509CertificateTests {
    // MARK: sign

    @Test func signWithUngeneratedKeyIsAnArgumentError() throws {
        let cert = try X509()
        #expect(isInvalidArgument(expectThrowsCleanly { try cert.sign(key: PKey(), digest: "sha256") }))
    }

    @Test func signWithPublicKeyIsAnArgumentError() throws {
        let issued = try issue(commonName: "pub")
        let publicOnly = try issued.cert.getPubkey()
        #expect(publicOnly.isPublicOnly)
        #expect(isInvalidArgument(expectThrowsCleanly { try issued.cert.sign(key: publicOnly, digest: "sha256") }))
    }

    @Test func signWithUnknownDigestIsAnArgumentError() throws {
        let issued = try issue(commonName: "digest")
        #expect(isInvalidArgument(expectThrowsCleanly { try issued.cert.sign(key: issued.key, digest: "monkeys") }))
    }

    @Test func signedRSACertificateVerifiesAndReportsItsAlgorithm() throws {
        let issued = try issue(commonName: "rsa signer", keyKind: .rsa2048)
        #expect(try issued.cert.getSignatureAlgorithm() == "sha256WithRSAEncryption")
        let store = try X509Store()
        try store.addCert(issued.cert)
        try X509StoreContext(store: store, certificate: issued.cert).verifyCertificate()

        let dir = try TemporaryDirectory()
        try dir.write("cert.pem", issued.pem)
        #expect(try openssl(["verify", "-CAfile", "cert.pem", "cert.pem"], in: dir).text == "cert.pem: OK\n")
        // Re-signing with another digest changes the algorithm.
        try issued.cert.sign(key: issued.key, digest: "sha384")
        #expect(try issued.cert.getSignatureAlgorithm() == "sha384WithRSAEncryption")
    }

    @Test func undefinedSignatureAlgorithmIsAnArgumentError() throws {
        let issued = try issue(commonName: "bogus oid")
        #expect(try issued.cert.getSignatureAlgorithm() == "ecdsa-with-SHA256")
        // Patch ecdsa-with-SHA256 (1.2.840.10045.4.3.2) into 1.2.840.10045.4.3.127, an OID nobody defines.
        let oid: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]
        var der = try issued.cert.derBytes()
        var patched = 0
        var index = 0
        while index + oid.count <= der.count {
            if Array(der[index..<index + oid.count]) == oid {
                der[index + oid.count - 1] = 0x7F
                patched += 1
            }
            index += 1
        }
        #expect(patched == 2, "TBS and outer signature algorithm")
        let bogus = try X509(der: der)
        #expect(isInvalidArgument(expectThrowsCleanly { try bogus.getSignatureAlgorithm() }))
    }

    // MARK: version, serial

    @Test func version() throws {
        let cert = try X509()
        #expect(cert.getVersion() == 0)
        try cert.setVersion(2)
        #expect(cert.getVersion() == 2)
    }

    @Test func serialNumberRoundTripsArbitrarySizes() throws {
        let cert = try X509()
        #expect(try cert.getSerialNumber() == 0)
        let values: [X509SerialNumber] = [
            0, 1, X509SerialNumber(hex: "100000001")!, X509SerialNumber(hex: "10000000000000001")!,
            X509SerialNumber(hex: "100000000000000000000000000000001")!,
        ]
        for value in values {
            try cert.setSerialNumber(value)
            #expect(try cert.getSerialNumber() == value)
        }
        let big = try cert.getSerialNumber()
        #expect(big.decimalString == "340282366920938463463374607431768211457", "2^128 + 1")
        #expect(big.hexString == "100000000000000000000000000000001")
        #expect(big.magnitude.count == 17)
        #expect(X509SerialNumber(hex: "2^128") == nil)
        #expect(X509SerialNumber(4_294_967_297).decimalString == "4294967297")
        #expect(X509SerialNumber(-5).isNegative)
        #expect(isInvalidArgument(expectThrowsCleanly { try cert.setSerialNumber(X509SerialNumber(-5)) }))
    }

    @Test func serialNumberAgreesWithTheCommandLine() throws {
        let serial = X509SerialNumber(hex: "100000000000000000000000000000001")!
        let issued = try issue(commonName: "serial", serial: serial)
        let printed = try openssl(["x509", "-noout", "-serial"], input: issued.pem).text
        #expect(printed == "serial=0100000000000000000000000000000001\n")

        let dir = try TemporaryDirectory()
        try dir.write("key.pem", issued.keyPEM)
        let pem = try openssl(["req", "-new", "-x509", "-key", "key.pem", "-days", "1", "-subj", "/CN=cli",
                               "-set_serial", "0xDEADBEEFCAFEF00D0123456789"], in: dir).stdout
        #expect(try Crypto.loadCertificate(.pem, pem).getSerialNumber().hexString == "DEADBEEFCAFEF00D0123456789")
    }

    // MARK: validity

    @Test(arguments: [true, false])
    func setValidityBoundary(notBefore: Bool) throws {
        let cert = try X509()
        let get = { notBefore ? cert.getNotBefore() : cert.getNotAfter() }
        let set = { (text: String) throws in
            if notBefore { try cert.setNotBefore(text) } else { try cert.setNotAfter(text) }
        }
        #expect(get() == nil)
        for text in ["20040203040506Z", "20040203040506+0530", "20040203040506-0115"] {
            try set(text)
            #expect(get() == text, "GeneralizedTime is returned verbatim")
        }
        #expect(isInvalidArgument(expectThrowsCleanly { try set("foo bar") }))
        // UTCTime is reported in the four-digit-year form.
        try set("090325123658Z")
        #expect(get() == "20090325123658Z")
    }

    @Test func commandLineCertificateValidityMatches() throws {
        let dir = try TemporaryDirectory()
        let (keyPEM, _) = try generateKey()
        try dir.write("key.pem", keyPEM)
        let pem = try openssl(["req", "-new", "-x509", "-key", "key.pem", "-days", "10", "-subj", "/CN=dates"],
                              in: dir).stdout
        let cert = try Crypto.loadCertificate(.pem, pem)
        let notAfter = try #require(cert.getNotAfter())
        let cliEnd = try openssl(["x509", "-noout", "-enddate", "-dateopt", "iso_8601"], input: pem).text
        // "notAfter=2026-12-03 11:24:36Z"
        let digits = cliEnd.filter(\.isNumber)
        #expect(notAfter == digits + "Z")
        #expect(try !cert.hasExpired())
    }

    @Test func gmtimeAdjustmentsAreRelativeToNow() throws {
        let cert = try X509()
        let now = Int(Date().timeIntervalSince1970)
        try cert.gmtimeAdjNotBefore(100)
        try cert.gmtimeAdjNotAfter(-100)
        let beforeText = try #require(cert.getNotBefore())
        let afterText = try #require(cert.getNotAfter())
        let before = try #require(epochSeconds(generalizedTime: beforeText))
        let after = try #require(epochSeconds(generalizedTime: afterText))
        #expect(abs(before - (now + 100)) <= 2)
        #expect(abs(after - (now - 100)) <= 2)
    }

    @Test func expiry() throws {
        let cert = try X509()
        #expect(isInvalidArgument(expectThrowsCleanly { try cert.hasExpired() }), "no notAfter yet")
        try cert.gmtimeAdjNotAfter(-1)
        #expect(try cert.hasExpired())
        try cert.gmtimeAdjNotAfter(2)
        #expect(try !cert.hasExpired())
        try cert.setNotAfter("20471220171119Z")
        #expect(try !cert.hasExpired())
    }

    // MARK: digest, hash

    @Test func digestMatchesCommandLineFingerprint() throws {
        let issued = try issue(commonName: "fingerprint")
        for (name, flag) in [("sha256", "-sha256"), ("SHA1", "-sha1"), ("md5", "-md5")] {
            let cli = try openssl(["x509", "-noout", "-fingerprint", flag], input: issued.pem).text
            let expected = cli.split(separator: "=", maxSplits: 1)[1].trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try issued.cert.digest(name) == expected)
        }
        #expect(isInvalidArgument(expectThrowsCleanly { try issued.cert.digest("monkeys") }))
    }

    @Test func subjectNameHashMatchesCommandLine() throws {
        let issued = try issue(commonName: "subject hash")
        let cli = try openssl(["x509", "-noout", "-subject_hash"], input: issued.pem).text
        #expect(issued.cert.subjectNameHash() == Int(cli.trimmingCharacters(in: .whitespacesAndNewlines), radix: 16))
        #expect(issued.cert.subjectNameHash() == (try issued.cert.getSubject().hash()))
    }

    // MARK: names

    @Test func subjectAndIssuerSettersCopyTheName() throws {
        let cert = try X509()
        let name = try X509Name()
        try name.set("C", "AU")
        try name.set("OU", "Unit Tests")
        try cert.setSubject(name)
        try cert.setIssuer(name)
        for view in [cert.getSubject(), cert.getIssuer()] {
            #expect(view.getComponents().map { [$0.name, $0.value] } == [
                [Array("C".utf8), Array("AU".utf8)], [Array("OU".utf8), Array("Unit Tests".utf8)],
            ])
        }
        // The certificate holds a copy: changing the source name afterwards does not reach it.
        try name.set("C", "US")
        #expect(cert.getSubject().countryName == "AU")
    }

    @Test func nameViewsAreLiveAndSurviveReplacement() throws {
        let cert = try X509()
        let subject = cert.getSubject()
        try subject.set("CN", "through the view")
        #expect(cert.getSubject().commonName == "through the view")

        let replacement = try X509Name()
        try replacement.set("CN", "replaced")
        try cert.setSubject(replacement)
        // OpenSSL freed the old X509_NAME; the view re-resolves to the new one instead of dangling.
        #expect(subject.commonName == "replaced")

        // A view keeps its certificate alive.
        let issuer: X509Name = try {
            let temporary = try X509()
            try temporary.getIssuer().set("CN", "owner gone")
            return temporary.getIssuer()
        }()
        #expect(issuer.commonName == "owner gone")
    }

    @Test func changesToALoadedCertificateReachTheEncodingWhenSigned() throws {
        let issued = try issue(commonName: "before")
        let cert = try Crypto.loadCertificate(.pem, issued.pem)
        try cert.getSubject().set("CN", "after")
        #expect(cert.getSubject().commonName == "after")
        try cert.sign(key: issued.key, digest: "sha256")
        let reloaded = try X509(der: cert.derBytes())
        #expect(reloaded.getSubject().commonName == "after")
        let printed = try openssl(["x509", "-noout", "-subject"], input: Crypto.dumpCertificate(.pem, cert)).text
        #expect(printed == "subject=CN = after\n")
    }

    @Test func namesOfACommandLineCertificate() throws {
        let dir = try TemporaryDirectory()
        let (keyPEM, _) = try generateKey()
        try dir.write("key.pem", keyPEM)
        let pem = try openssl(["req", "-new", "-x509", "-key", "key.pem", "-days", "1",
                               "-subj", "/C=US/ST=IL/L=Chicago/O=Testing/CN=Testing Root CA"], in: dir).stdout
        let cert = try Crypto.loadCertificate(.pem, pem)
        let expected: [[String]] = [["C", "US"], ["ST", "IL"], ["L", "Chicago"], ["O", "Testing"], ["CN", "Testing Root CA"]]
        for name in [cert.getSubject(), cert.getIssuer()] {
            #expect(name.getComponents().map { [String(decoding: $0.name, as: UTF8.self), String(decoding: $0.value, as: UTF8.self)] } == expected)
        }
        #expect(cert.getVersion() == 2)
    }

    // MARK: keys

    @Test func pubkeyOfEmptyCertificateIsAnOpenSSLError() throws {
        let cert = try X509()
        #expect(isOpenSSLError(expectThrowsCleanly { try cert.getPubkey() }))
    }

    @Test func pubkeyRoundTrip() throws {
        let issued = try issue(commonName: "pubkey")
        let cert = try X509()
        try cert.setPubkey(issued.cert.getPubkey())
        #expect(try cert.getPubkey().isPublicOnly)
        // The same key: a request signed by the private key verifies with the certificate's public key.
        let req = try X509Req()
        try req.setPubkey(issued.key)
        try req.sign(key: issued.key, digest: "sha256")
        #expect(try req.verify(key: cert.getPubkey()))
        #expect(isInvalidArgument(expectThrowsCleanly { try cert.setPubkey(PKey()) }))
    }

    // MARK: extensions

    @Test func extensionCount() throws {
        let cert = try X509()
        #expect(cert.getExtensionCount() == 0)
        try cert.addExtensions([try X509Extension(typeName: "basicConstraints", critical: true, value: "CA:TRUE")])
        #expect(cert.getExtensionCount() == 1)
        try cert.addExtensions([
            try X509Extension(typeName: "keyUsage", critical: false, value: "digitalSignature"),
            try X509Extension(typeName: "subjectAltName", critical: false, value: "DNS:example.com"),
        ])
        #expect(cert.getExtensionCount() == 3)
    }

    @Test func getExtensionByIndex() throws {
        let cert = try X509()
        try cert.addExtensions([
            try X509Extension(typeName: "basicConstraints", critical: true, value: "CA:FALSE"),
            try X509Extension(typeName: "keyUsage", critical: false, value: "digitalSignature"),
            try X509Extension(typeName: "subjectAltName", critical: false, value: "DNS:example.com"),
        ])
        let expected: [(String, Int)] = [("basicConstraints", 1), ("keyUsage", 0), ("subjectAltName", 0)]
        for (index, (name, critical)) in expected.enumerated() {
            let ext = try cert.getExtension(at: index)
            #expect(ext.getShortName() == Array(name.utf8))
            #expect(ext.getCritical() == critical)
        }
        for bad in [-1, 3] {
            let error = expectThrowsCleanly { try cert.getExtension(at: bad) }
            guard case .indexOutOfRange? = error as? CryptoError else {
                Issue.record("expected indexOutOfRange for \(bad), got \(String(describing: error))")
                continue
            }
        }
    }

    @Test func subjectAltNameWithEmbeddedNULs() throws {
        let issued = try issue(commonName: "nul san")
        try issued.cert.addExtensions([try X509Extension(
            typeName: "subjectAltName", critical: false,
            value: "DNS:altnull.python.org#example.com, email:null@python.org#user@example.org, "
                + "URI:http://null.python.org#http://example.org, IP:192.0.2.1, IP:2001:db8::1")])
        try issued.cert.sign(key: issued.key, digest: "sha256")
        // Turn each '#' into a NUL: same lengths, so the DER stays well-formed (the signature no longer
        // matches, which does not matter for parsing).
        let der = try issued.cert.derBytes().map { $0 == UInt8(ascii: "#") ? 0 : $0 }
        let cert = try X509(der: der)
        let san = try (0..<cert.getExtensionCount()).map { try cert.getExtension(at: $0) }
            .first { $0.getShortName() == Array("subjectAltName".utf8) }
        #expect(san?.description == "DNS:altnull.python.org\u{0}example.com, email:null@python.org\u{0}user@example.org, "
            + "URI:http://null.python.org\u{0}http://example.org, IP Address:192.0.2.1, IP Address:2001:DB8:0:0:0:0:0:1")
    }

    // MARK: load/dump

    @Test func loadGarbageIsAnOpenSSLError() {
        #expect(isOpenSSLError(expectThrowsCleanly { try Crypto.loadCertificate(.asn1, [0x6E, 0x6F, 0x6E, 0x73, 0x65]) }))
        #expect(isOpenSSLError(expectThrowsCleanly { try Crypto.loadCertificate(.pem, "not a certificate") }))
        #expect(isOpenSSLError(expectThrowsCleanly { try X509(der: [0x30, 0x03, 0x02, 0x01]) }))
        #expect(isInvalidArgument(expectThrowsCleanly { try Crypto.loadCertificate(.text, "") }))
    }

    @Test func dumpCertificateMatchesCommandLine() throws {
        let dir = try TemporaryDirectory()
        let (keyPEM, _) = try generateKey()
        try dir.write("key.pem", keyPEM)
        let pem = try openssl(["req", "-new", "-x509", "-key", "key.pem", "-days", "1", "-subj", "/CN=dump"], in: dir).stdout
        let cert = try Crypto.loadCertificate(.pem, String(decoding: pem, as: UTF8.self))

        #expect(try Crypto.dumpCertificate(.pem, cert) == pem)
        let der = try Crypto.dumpCertificate(.asn1, cert)
        #expect(der == (try openssl(["x509", "-outform", "DER"], input: pem).stdout))
        #expect(try cert.derBytes() == der)
        #expect(try Crypto.dumpCertificate(.pem, Crypto.loadCertificate(.asn1, der)) == pem)

        let text = String(decoding: try Crypto.dumpCertificate(.text, cert), as: UTF8.self)
        #expect(text.utf8.count > 500)
        #expect(text.hasPrefix("Certificate:\n"))
        #expect(text.contains("Signature Algorithm: ecdsa-with-SHA256"))
        #expect(text.contains("Subject: CN=dump"))
    }

    @Test func certificateBuiltHereIsReadByTheCommandLine() throws {
        let chain = try Chain()
        let leafPEM = chain.leaf.pem
        let printed = try openssl(["x509", "-noout", "-subject", "-issuer", "-ext", "basicConstraints,keyUsage"],
                                  input: leafPEM).text
        #expect(printed.contains("subject=CN = leaf.example"))
        #expect(printed.contains("issuer=CN = intermediate"))
        #expect(printed.contains("CA:FALSE"))
        #expect(printed.contains("Digital Signature, Key Encipherment"))
    }
}
