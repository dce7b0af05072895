import Testing
@testable import OpenSSLCrypto

/// `X509.subjectAltNames()`, `X509Name.entries(_:)` and `Crypto.loadCRLs`: the structured accessors the
/// proxy's allow-list and CRL loading are built on.
@Suite struct SubjectAltNameTests {
    func certificate(subjectAltName: String?) throws -> X509 {
        let cert = try issue(commonName: "leaf.example").cert
        if let subjectAltName {
            try cert.addExtensions([try X509Extension(typeName: "subjectAltName", critical: false, value: subjectAltName)])
        }
        return cert
    }

    @Test func everyKindIsReadInOrder() throws {
        let cert = try certificate(subjectAltName:
            "DNS:a.example.com, URI:spiffe://corp.example/ns/prod/billing, email:ops@example.com, IP:192.0.2.1, IP:2001:db8::1, DNS:*.example.com, otherName:1.2.3.4;UTF8:hello, RID:1.2.3.4")
        #expect(try cert.subjectAltNames() == [
            .dns("a.example.com"), .uri("spiffe://corp.example/ns/prod/billing"), .email("ops@example.com"),
            .ip([192, 0, 2, 1]), .ip([0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]),
            .dns("*.example.com"), .other, .other,
        ])
        #expect(try cert.subjectAltNames().map(\.description).prefix(5) == [
            "DNS:a.example.com", "URI:spiffe://corp.example/ns/prod/billing", "email:ops@example.com", "IP:192.0.2.1",
            "IP:2001:DB8:0:0:0:0:0:1",
        ])
    }

    @Test func noExtensionIsEmpty() throws {
        #expect(try certificate(subjectAltName: nil).subjectAltNames() == [])
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func aCommaInsideAValueStaysInThatValue() throws {
        // A DER-encoded SAN whose single dNSName is "a.example, DNS:b.example": one entry, not two.
        let value = Array("a.example, DNS:b.example".utf8)
        let der: [UInt8] = [0x30, UInt8(value.count + 2), 0x82, UInt8(value.count)] + value
        let cert = try certificate(subjectAltName: "DER:" + der.map { String($0, radix: 16) }.joined(separator: ":"))
        #expect(try cert.subjectAltNames() == [.dns("a.example, DNS:b.example")])
    }

    @Test func malformedOrDuplicatedExtensionsThrow() throws {
        let garbage = try certificate(subjectAltName: "DER:01:02:03")
        #expect(isOpenSSLError(expectThrowsCleanly { try garbage.subjectAltNames() }))
        let twice = try certificate(subjectAltName: "DNS:a.example")
        try twice.addExtensions([try X509Extension(typeName: "subjectAltName", critical: false, value: "DNS:b.example")])
        #expect(isInvalidArgument(expectThrowsCleanly { try twice.subjectAltNames() }))
    }

    @Test func nameEntriesAreStructured() throws {
        let name = try X509Name()
        try name.set(.commonName, "x, OU=admins")
        try name.set(.organizationalUnitName, "ops")
        #expect(try name.entries(.commonName) == ["x, OU=admins"])
        #expect(try name.entries(.organizationalUnitName) == ["ops"])
        #expect(try name.entries(.emailAddress) == [])
    }

    @Test func repeatedAndNonUTF8StringTypesAreDecoded() throws {
        let dir = try TemporaryDirectory()
        // Two OUs (PrintableString) and a CN that `string_mask = default` stores as a BMPString (UTF-16BE).
        try dir.write("req.cnf", Array("""
            [req]
            distinguished_name = dn
            string_mask = default
            utf8 = yes
            prompt = no
            [dn]
            0.OU = ops
            1.OU = dev
            CN = \u{4E2D}\u{6587}

            """.utf8))
        _ = try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", "k.pem", "-out", "c.pem", "-days", "1", "-config", "req.cnf"], in: dir)
        let parsed = try openssl(["asn1parse", "-in", "c.pem"], in: dir).text
        #expect(parsed.contains("BMPSTRING"))  // the case under test really is a BMPString
        let cert = try Crypto.loadCertificate(.pem, try dir.read("c.pem"))
        #expect(try cert.getSubject().entries(.organizationalUnitName) == ["ops", "dev"])
        #expect(try cert.getSubject().entries(.commonName) == ["\u{4E2D}\u{6587}"])
    }

    @Test func everyCRLOfAPEMFileIsLoaded() throws {
        let root = try issue(commonName: "root", isCA: true)
        let other = try issue(commonName: "other", isCA: true, serial: 2)
        let first = try CRL().export(cert: root.cert, key: root.key, days: 1, digest: "sha256")
        let second = try CRL().export(cert: other.cert, key: other.key, days: 1, digest: "sha256")
        // A certificate between them is skipped, not loaded as anything.
        let bundle = first + root.pem + Array("\n# comment\n".utf8) + second
        let crls = try Crypto.loadCRLs(.pem, bundle)
        #expect(try crls.map { try $0.getIssuer().commonName } == ["root", "other"])
        #expect(OpenSSLErrorQueue.isEmpty)
        let der = try Crypto.dumpCRL(.asn1, crls[1])
        #expect(try Crypto.loadCRLs(.asn1, der).map { try $0.getIssuer().commonName } == ["other"])
    }

    @Test func aFileWithoutCRLsOrWithABrokenOneFails() throws {
        let root = try issue(commonName: "root", isCA: true)
        let good = try CRL().export(cert: root.cert, key: root.key, days: 1, digest: "sha256")
        #expect(isOpenSSLError(expectThrowsCleanly { try Crypto.loadCRLs(.pem, Array("not a CRL".utf8)) }))
        #expect(isOpenSSLError(expectThrowsCleanly { try Crypto.loadCRLs(.pem, root.pem) }))
        let broken = good + Array("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n".utf8)
        #expect(isOpenSSLError(expectThrowsCleanly { try Crypto.loadCRLs(.pem, broken) }))
        #expect(isInvalidArgument(expectThrowsCleanly { try Crypto.loadCRLs(.text, good) }))
    }
}
