import Testing
@testable import OpenSSLCrypto

/// Ports of pyOpenSSL's `TestX509Name`, plus command-line cross-checks.
@Suite struct X509NameTests {
    /// A standalone name with the given (field, value) entries in order.
    func name(_ entries: [(String, String)]) throws -> X509Name {
        let name = try X509Name()
        for (field, value) in entries { try name.set(field, value) }
        return name
    }

    @Test func unknownAttributeIsRejectedOnSetAndGet() throws {
        let name = try X509Name()
        let setError = expectThrowsCleanly { try name.set("no such thing", "x") }
        #expect(isInvalidArgument(setError))
        let getError = expectThrowsCleanly { try name["no such thing"] }
        #expect(isInvalidArgument(getError))
        #expect(isInvalidArgument(expectThrowsCleanly { try X509Name.Field("thisIsMadeUp") }))
    }

    @Test func attributesByShortAndLongName() throws {
        let name = try self.name([("CN", "foo")])
        #expect(try name["CN"] == "foo")
        #expect(try name["commonName"] == "foo")
        #expect(name.commonName == "foo")
        #expect(name[.CN] == "foo")

        try name.set("commonName", "bar")
        #expect(try name["CN"] == "bar")
        #expect(name.getComponents().count == 1, "overwriting replaces, not appends")

        #expect(try name["emailAddress"] == nil)
        try name.set(.emailAddress, "nobody@example.com")
        #expect(name.emailAddress == "nobody@example.com")
        #expect(try name["2.5.4.3"] == "bar", "dotted OIDs are field names too")

        try name.set(.C, "US")
        try name.set("ST", "IL")
        try name.set("localityName", "Chicago")
        try name.set("O", "Testing")
        try name.set("organizationalUnitName", "Unit")
        #expect(name.countryName == "US")
        #expect(name.stateOrProvinceName == "IL")
        #expect(name.localityName == "Chicago")
        #expect(name.organizationName == "Testing")
        #expect(name.organizationalUnitName == "Unit")
    }

    @Test func copyIsDeep() throws {
        let original = try name([("CN", "foo"), ("O", "bar")])
        let copy = try X509Name(copying: original)
        try copy.set("CN", "baz")
        #expect(original.commonName == "foo")
        #expect(copy.commonName == "baz")
        #expect(copy.organizationName == "bar")

        // A copy of a certificate's live subject view is detached from the certificate.
        let cert = try X509()
        try cert.getSubject().set("CN", "cert")
        let detached = try X509Name(copying: cert.getSubject())
        try detached.set("CN", "changed")
        #expect(cert.getSubject().commonName == "cert")
    }

    @Test func nulBytesArePreserved() throws {
        let name = try self.name([("CN", "a\u{0}b")])
        #expect(name.commonName == "a\u{0}b")
        #expect(name.getComponents().map(\.value) == [[0x61, 0x00, 0x62]])

        // And through a certificate's DER encoding and back.
        let cert = try issue(commonName: "placeholder").cert
        try cert.setSubject(name)
        let reloaded = try Crypto.loadCertificate(.asn1, try cert.derBytes())
        #expect(reloaded.getSubject().commonName == "a\u{0}b")
        #expect(reloaded.getSubject().getComponents().map(\.value) == [[0x61, 0x00, 0x62]])
    }

    @Test func descriptionUsesOnelineForm() throws {
        let name = try self.name([("emailAddress", "bar"), ("CN", "foo")])
        #expect(name.description == "<X509Name object '/emailAddress=bar/CN=foo'>")
        #expect(try self.name([("C", "US"), ("CN", "foo")]).description == "<X509Name object '/C=US/CN=foo'>")
    }

    @Test func comparisonFollowsX509NameCmp() throws {
        #expect(try name([("CN", "foo")]) == name([("CN", "foo")]))
        #expect(try name([("CN", "foo")]) != name([("CN", "bar")]))
        #expect(try name([("CN", "foo")]) == name([("CN", "FOO")]), "canonical form ignores case")
        #expect(try name([("CN", "abc")]) < name([("CN", "def")]))
        #expect(try name([("CN", "def")]) > name([("CN", "abc")]))
        #expect(try name([("CN", "abc")]) <= name([("CN", "abc")]))
        #expect(try name([("CN", "abc")]) >= name([("CN", "abc")]))
        #expect(try !(name([("CN", "abc")]) < name([("CN", "abc")])))
    }

    @Test func hashKnownAnswerAndSensitivity() throws {
        let a = try name([("CN", "foo")])
        let b = try name([("CN", "foo")])
        #expect(try a.hash() == 3_737_812_659)
        #expect(try a.hash() == b.hash())
        try a.set("CN", "bar")
        #expect(try a.hash() != b.hash())
    }

    @Test func hashMatchesOpenSSLSubjectHash() throws {
        let issued = try issue(commonName: "hash check")
        try issued.cert.getSubject().set("O", "Portcullis")
        try issued.cert.sign(key: issued.key, digest: "sha256")
        let cli = try openssl(["x509", "-noout", "-subject_hash"], input: issued.pem).text
        let expected = Int(cli.trimmingCharacters(in: .whitespacesAndNewlines), radix: 16)
        #expect(try issued.cert.getSubject().hash() == expected)
    }

    @Test func derKnownAnswer() throws {
        let name = try self.name([("C", "US"), ("CN", "foo")])
        let expected: [UInt8] = [
            0x30, 0x1B, 0x31, 0x0B, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, 0x55, 0x53,
            0x31, 0x0C, 0x30, 0x0A, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x03, 0x66, 0x6F, 0x6F,
        ]
        #expect(try name.der() == expected, "C is a PrintableString, CN a UTF8String")
    }

    @Test func componentsInOrder() throws {
        let name = try X509Name()
        #expect(name.getComponents().isEmpty)
        try name.set("CN", "foo")
        #expect(name.getComponents().map { [$0.name, $0.value] } == [[Array("CN".utf8), Array("foo".utf8)]])
        try name.set("organizationalUnitName", "bar")
        #expect(name.getComponents().map { [$0.name, $0.value] } == [
            [Array("CN".utf8), Array("foo".utf8)], [Array("OU".utf8), Array("bar".utf8)],
        ])
    }

    @Test func valueOpenSSLRefusesThrowsAndKeepsTheName() throws {
        let name = try self.name([("O", "kept")])
        let error = expectThrowsCleanly { try name.set("O", String(repeating: "x", count: 512)) }
        #expect(isOpenSSLError(error))
        #expect(name.organizationName == "kept")
        #expect(isOpenSSLError(expectThrowsCleanly { try name.set("C", "USA") }), "C must be exactly 2 characters")
    }

    @Test func nameReadFromCommandLineCertificate() throws {
        let dir = try TemporaryDirectory()
        let (keyPEM, _) = try generateKey()
        try dir.write("key.pem", keyPEM)
        let pem = try openssl([
            "req", "-new", "-x509", "-key", "key.pem", "-days", "1",
            "-subj", "/C=US/ST=IL/L=Chicago/O=Testing/CN=Testing Root CA",
        ], in: dir).stdout
        let cert = try Crypto.loadCertificate(.pem, pem)
        let subject = cert.getSubject()
        #expect(subject.getComponents().map { String(decoding: $0.name, as: UTF8.self) } == ["C", "ST", "L", "O", "CN"])
        #expect(subject.commonName == "Testing Root CA")
        #expect(subject.localityName == "Chicago")
        // Known answer from pyOpenSSL's test suite: root_cert_pem has this subject, and the hash only depends
        // on the canonical (case-folded UTF-8) form of the name.
        #expect(cert.subjectNameHash() == 3_278_919_224)
        #expect(try subject.hash() == 3_278_919_224)
        #expect(cert.getIssuer() == subject)
    }
}
