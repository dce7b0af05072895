import Testing
@testable import OpenSSLCrypto

/// Ports of pyOpenSSL's legacy `TestX509Ext` (removed in 26.2.0, still in the catalogue).
@Suite struct X509ExtensionTests {
    @Test func descriptionIsOpenSSLText() throws {
        #expect(try X509Extension(typeName: "basicConstraints", critical: true, value: "CA:false").description == "CA:FALSE")
        #expect(try X509Extension(typeName: "keyUsage", critical: false, value: "digitalSignature, keyEncipherment")
            .description == "Digital Signature, Key Encipherment")
        #expect(try X509Extension(typeName: "nsComment", critical: false, value: "pyOpenSSL unit test").description
            == "pyOpenSSL unit test")
        #expect(try X509Extension(typeName: "subjectAltName", critical: false, value: "DNS:example.com, IP:192.0.2.1")
            .description == "DNS:example.com, IP Address:192.0.2.1")
    }

    @Test func invalidExtensionsAreOpenSSLErrors() {
        let cases: [(String, String)] = [
            ("thisIsMadeUp", "hi"),
            ("basicConstraints", "blah blah"),
            // r2i extension whose policy value would need a configuration database.
            ("proxyCertInfo", "language:id-ppl-anyLanguage,pathlen:1,policy:text:AB"),
        ]
        for (name, value) in cases {
            let error = expectThrowsCleanly("\(name)=\(value)") {
                try X509Extension(typeName: name, critical: false, value: value)
            }
            #expect(isOpenSSLError(error), "\(name)")
        }
        let unknown = expectThrowsCleanly { try X509Extension(typeName: "thisIsMadeUp", critical: false, value: "hi") }
        #expect((unknown as? CryptoError)?.entries.contains { $0.reason == "unknown extension name" } == true)
    }

    @Test(arguments: [true, false])
    func critical(_ critical: Bool) throws {
        let ext = try X509Extension(typeName: "basicConstraints", critical: critical, value: "CA:true")
        #expect(ext.getCritical() == (critical ? 1 : 0))
    }

    @Test(arguments: [("basicConstraints", "CA:true"), ("nsComment", "foo bar")])
    func shortName(_ name: String, _ value: String) throws {
        #expect(try X509Extension(typeName: name, critical: false, value: value).getShortName() == Array(name.utf8))
    }

    @Test func longNamesAreNotExtensionTypeNames() {
        // X509V3_EXT_nconf looks names up with OBJ_sn2nid: only short names select an extension.
        #expect(isOpenSSLError(expectThrowsCleanly {
            try X509Extension(typeName: "X509v3 Basic Constraints", critical: false, value: "CA:true")
        }))
    }

    @Test func extensionWithAnOIDOpenSSLDoesNotKnow() throws {
        let ext = try X509Extension(typeName: "1.2.3.4", critical: false, value: "DER:04:03:61:62:63")
        #expect(ext.getShortName() == Array("UNDEF".utf8))
        #expect(ext.getData() == [0x04, 0x03, 0x61, 0x62, 0x63])
        #expect(ext.description.hasPrefix("0000 - 04 03 61 62 63 "), "unknown extensions are hex-dumped, not an error")
    }

    @Test func dataIsTheDEREncodedValue() throws {
        #expect(try X509Extension(typeName: "basicConstraints", critical: true, value: "CA:true").getData()
            == [0x30, 0x03, 0x01, 0x01, 0xFF])
        #expect(try X509Extension(typeName: "basicConstraints", critical: true, value: "CA:false").getData() == [0x30, 0x00])
    }

    @Test func unusedSubjectAndIssuerAreIgnored() throws {
        let issued = try issue(commonName: "unused")
        let ext = try X509Extension(typeName: "basicConstraints", critical: false, value: "CA:TRUE",
                                    subject: issued.cert, issuer: issued.cert)
        let cert = try X509()
        try cert.addExtensions([ext])
        let text = String(decoding: try Crypto.dumpCertificate(.text, issued.cert), as: UTF8.self)
        #expect(text.contains("X509v3 Basic Constraints: critical"))
        #expect(try cert.getExtension(at: 0).description == "CA:TRUE")
    }

    @Test func subjectKeyIdentifierNeedsASubject() throws {
        let issued = try issue(commonName: "ski")
        let ext = try X509Extension(typeName: "subjectKeyIdentifier", critical: false, value: "hash", subject: issued.cert)
        let fromCommandLine = try openssl(["x509", "-noout", "-ext", "subjectKeyIdentifier"], input: issued.pem).text
        // "X509v3 Subject Key Identifier: \n    AB:CD:...\n"
        #expect(fromCommandLine.contains(ext.description))
        #expect(ext.description.count == 59, "20 bytes as colon-separated hex")

        let error = expectThrowsCleanly { try X509Extension(typeName: "subjectKeyIdentifier", critical: false, value: "hash") }
        #expect((error as? CryptoError)?.entries.contains { $0.reason == "no subject details" } == true)
    }

    @Test func authorityKeyIdentifierWithIssuer() throws {
        let cert = try X509()
        try cert.getSubject().set("CN", "Yoda root CA")
        try cert.setIssuer(cert.getSubject())
        let (_, key) = try generateKey()
        try cert.setPubkey(key)
        let ext = try X509Extension(typeName: "authorityKeyIdentifier", critical: false, value: "issuer:always",
                                    issuer: cert)
        #expect(ext.description == "DirName:/CN=Yoda root CA\nserial:00")

        let missing = expectThrowsCleanly {
            try X509Extension(typeName: "authorityKeyIdentifier", critical: false, value: "issuer:always")
        }
        #expect(isOpenSSLError(missing))
    }

    @Test func copiesFromACertificateOutliveIt() throws {
        let ext: X509Extension = try {
            let issued = try issue(commonName: "short lived")
            return try issued.cert.getExtension(at: 0)
        }()
        #expect(ext.getShortName() == Array("basicConstraints".utf8))
        #expect(ext.description == "CA:FALSE")
    }
}
