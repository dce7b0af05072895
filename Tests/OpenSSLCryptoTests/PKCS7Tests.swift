import Foundation
import Testing
@testable import OpenSSLCrypto

/// pyOpenSSL's TestPKCS7 and load_pkcs7_data cases, with PKCS#7 structures made by the CLI.
@Suite struct PKCS7Tests {
    /// pkcs7-signedData: a certificate bag from `openssl crl2pkcs7`, as PEM and DER.
    static func signedData(outform: String) throws -> [UInt8] {
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try Array(KeyFixtures.rootCertPEM.utf8).write(to: dir, name: "root.pem")
        let result = try KeysCLI.run(["crl2pkcs7", "-nocrl", "-certfile", "root.pem", "-outform", outform], in: dir)
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout
    }

    /// pkcs7-envelopedData from `openssl smime -encrypt`.
    static func envelopedData() throws -> [UInt8] {
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try Array(KeyFixtures.rootCertPEM.utf8).write(to: dir, name: "root.pem")
        let result = try KeysCLI.run(["smime", "-encrypt", "-aes-256-cbc", "-outform", "PEM", "root.pem"],
                                     input: Array("secret".utf8), in: dir)
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout
    }

    /// ContentInfo { pkcs7-data, [0] OCTET STRING "test" }, hand-encoded.
    static let dataDER: [UInt8] = [
        0x30, 0x13, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01,
        0xA0, 0x06, 0x04, 0x04, 0x74, 0x65, 0x73, 0x74,
    ]

    /// A minimal pkcs7-signedAndEnvelopedData (empty recipient, digest and signer sets), encoded by the CLI.
    static func signedAndEnvelopedData() throws -> [UInt8] {
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try Array("""
            asn1 = SEQUENCE:contentinfo
            [contentinfo]
            type = OID:pkcs7-signedAndEnvelopedData
            content = EXPLICIT:0,SEQUENCE:sande
            [sande]
            version = INTEGER:1
            recipients = SET:empty
            digests = SET:empty
            encrypted = SEQUENCE:enc
            signers = SET:empty
            [empty]
            [enc]
            type = OID:pkcs7-data
            alg = SEQUENCE:alg
            [alg]
            oid = OID:aes-256-cbc
            iv = FORMAT:HEX,OCTETSTRING:00000000000000000000000000000000

            """.utf8).write(to: dir, name: "p7.cnf")
        let result = try KeysCLI.run(["asn1parse", "-genconf", "p7.cnf", "-out", "p7.der", "-noout"], in: dir)
        #expect(result.status == 0, "\(result.stderr)")
        return try [UInt8](contentsOf: dir, name: "p7.der")
    }

    static func flags(_ p7: PKCS7) -> [Bool] {
        [p7.typeIsSigned(), p7.typeIsEnveloped(), p7.typeIsSignedAndEnveloped(), p7.typeIsData()]
    }

    @Test func signedPEMAndDER() throws {
        for (type, data) in [(FileType.pem, try Self.signedData(outform: "PEM")), (.asn1, try Self.signedData(outform: "DER"))] {
            let p7 = try Crypto.loadPKCS7Data(type, data)
            #expect(Self.flags(p7) == [true, false, false, false])
            #expect(p7.getTypeName() == Array("pkcs7-signedData".utf8))
        }
    }

    @Test func enveloped() throws {
        let p7 = try Crypto.loadPKCS7Data(.pem, try Self.envelopedData())
        #expect(Self.flags(p7) == [false, true, false, false])
        #expect(p7.getTypeName() == Array("pkcs7-envelopedData".utf8))
    }

    @Test func signedAndEnveloped() throws {
        let p7 = try Crypto.loadPKCS7Data(.asn1, try Self.signedAndEnvelopedData())
        #expect(Self.flags(p7) == [false, false, true, false])
        #expect(p7.getTypeName() == Array("pkcs7-signedAndEnvelopedData".utf8))
    }

    @Test func data() throws {
        let p7 = try Crypto.loadPKCS7Data(.asn1, Self.dataDER)
        #expect(Self.flags(p7) == [false, false, false, true])
        #expect(p7.getTypeName() == Array("pkcs7-data".utf8))
    }

    @Test func invalidInput() {
        expectKeyAreaError({ _ = try Crypto.loadPKCS7Data(.pem, "foo") }, KeyErrorKind.openSSL)
        expectKeyAreaError({ _ = try Crypto.loadPKCS7Data(.asn1, [UInt8]("foo".utf8)) }, KeyErrorKind.openSSL)
        expectKeyAreaError({ _ = try Crypto.loadPKCS7Data(.text, "foo") }, KeyErrorKind.invalidArgument)
    }
}
