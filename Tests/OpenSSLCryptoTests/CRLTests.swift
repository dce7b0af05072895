import COpenSSL
import Foundation
import Testing
@testable import OpenSSLCrypto

/// pyOpenSSL's TestCRL cases, cross-checked with `openssl crl`.
@Suite struct CRLTests {
    static func now() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        return formatter.string(from: Date())
    }

    static func crlWithRevocation() throws -> CRL {
        let crl = try CRL()
        let revoked = try Revoked()
        try revoked.setRevDate(now())
        try revoked.setSerial(hex: "3ab")
        try revoked.setReason("sUpErSeDEd")
        try crl.addRevoked(revoked)
        return crl
    }

    static func root() throws -> (cert: X509, key: PKey) {
        (try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM), try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM))
    }

    /// `openssl crl` on `data`, verified against the root certificate.
    static func cli(_ data: [UInt8], inform: String = "PEM", _ extra: [String] = []) throws -> KeysCLI.Result {
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try Array(KeyFixtures.rootCertPEM.utf8).write(to: dir, name: "root.pem")
        return try KeysCLI.run(["crl", "-inform", inform, "-CAfile", "root.pem", "-noout"] + extra, input: data, in: dir)
    }

    @Test func emptyCRLHasNoEntries() throws {
        #expect(try CRL().getRevoked() == nil)
    }

    @Test func exportPEMIsReadAndVerifiedByTheCLI() throws {
        let (cert, key) = try Self.root()
        let pem = try Self.crlWithRevocation().export(cert: cert, key: key, days: 20, digest: "sha256")
        #expect(String(decoding: pem, as: UTF8.self).hasPrefix("-----BEGIN X509 CRL-----"))
        let result = try Self.cli(pem, ["-text", "-issuer"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("verify OK"))
        #expect(result.text.contains("issuer=C = US, ST = IL, L = Chicago, O = Testing, CN = Testing Root CA"))
        #expect(result.text.contains("Serial Number: 03AB"))
        #expect(result.text.contains("Superseded"))
        // The wrapper reads its own output back.
        let loaded = try Crypto.loadCRL(.pem, pem)
        #expect(try loaded.getRevoked()?.map { try $0.getSerial() } == [Array("03AB".utf8)])
        let issuer = try loaded.getIssuer()
        withExtendedLifetime((issuer, cert)) {
            #expect(X509_NAME_cmp(issuer.pointer, X509_get_subject_name(cert.pointer)) == 0)
        }
    }

    @Test func exportDER() throws {
        let (cert, key) = try Self.root()
        let der = try Self.crlWithRevocation().export(cert: cert, key: key, type: .asn1, digest: "sha256")
        let result = try Self.cli(der, inform: "DER", ["-text"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("verify OK"))
        #expect(result.text.contains("Serial Number: 03AB"))
    }

    @Test func exportTextIsLong() throws {
        let (cert, key) = try Self.root()
        let text = try Self.crlWithRevocation().export(cert: cert, key: key, type: .text, digest: "sha256")
        #expect(text.count > 500)
        #expect(String(decoding: text, as: UTF8.self).contains("Certificate Revocation List (CRL):"))
    }

    @Test(arguments: ["sha384", "md5", "sha1"])
    func exportUsesTheGivenDigest(digest: String) throws {
        let (cert, key) = try Self.root()
        let pem = try Self.crlWithRevocation().export(cert: cert, key: key, digest: digest)
        let result = try Self.cli(pem, ["-text"])
        #expect(result.status == 0)
        #expect(result.text.contains("Signature Algorithm: \(digest)WithRSAEncryption"))
    }

    @Test func exportErrors() throws {
        let (cert, key) = try Self.root()
        expectKeyAreaError({ _ = try CRL().export(cert: cert, key: key, digest: "strange-digest") }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ _ = try CRL().export(cert: X509(), key: PKey(), digest: "sha256") }, KeyErrorKind.invalidArgument)
        // A public-only key cannot sign: OpenSSL refuses.
        let publicKey = try Crypto.loadPublicKey(.pem, Crypto.dumpPublicKey(.pem, key))
        expectKeyAreaError({ _ = try CRL().export(cert: cert, key: publicKey, digest: "sha256") }, KeyErrorKind.openSSL)
    }

    @Test func getRevokedReturnsCopies() throws {
        let crl = try CRL()
        let revoked = try Revoked()
        let now = Self.now()
        try revoked.setRevDate(now)
        try revoked.setSerial(hex: "3ab")
        try crl.addRevoked(revoked)
        try revoked.setSerial(hex: "100")
        try revoked.setReason("sUpErSeDEd")
        try crl.addRevoked(revoked)

        let entries = try #require(try crl.getRevoked())
        #expect(entries.count == 2)
        #expect(try entries[0].getSerial() == Array("03AB".utf8))
        #expect(try entries[1].getSerial() == Array("0100".utf8))
        #expect(entries[0].getRevDate() == Array(now.utf8))
        #expect(entries[1].getRevDate() == Array(now.utf8))
        #expect(try entries[0].getReason() == nil)
        // Mutating a returned copy, or the original, leaves the CRL alone.
        try entries[0].setSerial(hex: "ff")
        try revoked.setSerial(hex: "ee")
        #expect(try crl.getRevoked()?.map { try $0.getSerial() } == [Array("03AB".utf8), Array("0100".utf8)])
    }

    @Test func loadKnownCRLInPEMAndDER() throws {
        let der = try KeysCLI.run(["crl", "-outform", "DER"], input: Array(KeyFixtures.crlPEM.utf8)).stdout
        #expect(der == KeyFixtures.derBody(ofPEM: KeyFixtures.crlPEM))
        for crl in [try Crypto.loadCRL(.pem, KeyFixtures.crlPEM), try Crypto.loadCRL(.asn1, der)] {
            let entries = try #require(try crl.getRevoked())
            #expect(entries.count == 2)
            #expect(try entries[0].getSerial() == Array("03AB".utf8))
            #expect(try entries[0].getReason() == nil)
            #expect(entries[0].getRevDate() == Array("20090725233456Z".utf8))
            #expect(try entries[1].getSerial() == Array("0100".utf8))
            #expect(try entries[1].getReason() == Array("Superseded".utf8))
        }
    }

    @Test func loadErrors() {
        expectKeyAreaError({ _ = try Crypto.loadCRL(.pem, "hello, world") }, KeyErrorKind.openSSL)
        expectKeyAreaError({ _ = try Crypto.loadCRL(.asn1, [UInt8]("hello".utf8)) }, KeyErrorKind.openSSL)
        expectKeyAreaError({ _ = try Crypto.loadCRL(.text, KeyFixtures.crlPEM) }, KeyErrorKind.invalidArgument)
    }

    @Test func issuerOfKnownCRL() throws {
        let crl = try Crypto.loadCRL(.pem, KeyFixtures.crlPEM)
        let issuer = try crl.getIssuer()
        let cert = try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM)
        withExtendedLifetime((issuer, cert, crl)) {
            #expect(X509_NAME_cmp(issuer.pointer, X509_get_subject_name(cert.pointer)) == 0)
            var buffer = [CChar](repeating: 0, count: 256)
            X509_NAME_oneline(issuer.pointer, &buffer, 256)
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            #expect(text == "/C=US/ST=IL/L=Chicago/O=Testing/CN=Testing Root CA")
        }
    }

    @Test func dumpIsByteIdentical() throws {
        let crl = try Crypto.loadCRL(.pem, KeyFixtures.crlPEM)
        #expect(try Crypto.dumpCRL(.pem, crl) == Array(KeyFixtures.crlPEM.utf8))
        #expect(try Crypto.dumpCRL(.asn1, crl) == KeyFixtures.derBody(ofPEM: KeyFixtures.crlPEM))
        let text = String(decoding: try Crypto.dumpCRL(.text, crl), as: UTF8.self)
        #expect(text.contains("Last Update: Jul 26 04:34:56 2009 GMT"))
        #expect(text.contains("Signature Algorithm: md5WithRSAEncryption"))
    }

    @Test func signWithExplicitDatesAndVersion() throws {
        let (cert, key) = try Self.root()
        let crl = try CRL()
        let revoked = try Revoked()
        try revoked.setSerial(hex: "3d0cc4e0c6deb9f4")
        try revoked.setReason("unspecified")
        try revoked.setRevDate("20140601000000Z")
        try crl.addRevoked(revoked)
        let later = try Revoked()
        try later.setSerial(hex: "01")
        try later.setRevDate("20140601000000Z")
        try crl.addRevoked(later)
        try crl.setVersion(1)
        try crl.setLastUpdate("20140601000000Z")
        try crl.setNextUpdate("50000601000000Z")
        try crl.sign(issuerCert: cert, issuerKey: key, digest: "sha512")
        expectKeyAreaError({ try crl.setLastUpdate("not a time") }, KeyErrorKind.invalidArgument)

        let pem = try Crypto.dumpCRL(.pem, crl)
        let result = try Self.cli(pem, ["-text"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("verify OK"))
        #expect(result.text.contains("Version 2 (0x1)"))
        #expect(result.text.contains("Last Update: Jun  1 00:00:00 2014 GMT"))
        #expect(result.text.contains("Next Update: Jun  1 00:00:00 5000 GMT"))
        #expect(result.text.contains("Signature Algorithm: sha512WithRSAEncryption"))
        // sign() sorts the entries by serial.
        #expect(try Crypto.loadCRL(.pem, pem).getRevoked()?.map { try $0.getSerial() }
            == [Array("01".utf8), Array("3D0CC4E0C6DEB9F4".utf8)])
        expectKeyAreaError({ try crl.sign(issuerCert: cert, issuerKey: key, digest: "monkeys") }, KeyErrorKind.invalidArgument)
    }

    @Test func cliMadeCRLLoads() throws {
        // A CRL from `openssl ca -gencrl` with one revoked certificate.
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try Array(KeyFixtures.rootCertPEM.utf8).write(to: dir, name: "ca.pem")
        try Array(KeyFixtures.rootKeyPEM.utf8).write(to: dir, name: "ca.key")
        try [UInt8]().write(to: dir, name: "index.txt")
        try Array("""
            [ca]
            default_ca = ca_default
            [ca_default]
            database = index.txt
            default_md = sha256
            default_crl_days = 7
            crl_extensions = crl_ext
            [crl_ext]
            authorityKeyIdentifier = keyid:always

            """.utf8).write(to: dir, name: "ca.cnf")
        let leaf = try KeysCLI.selfSignedCertificate(subject: "/CN=revoked leaf")
        try leaf.cert.write(to: dir, name: "leaf.pem")
        let revoke = try KeysCLI.run(["ca", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-revoke", "leaf.pem",
                                      "-crl_reason", "keyCompromise"], in: dir)
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let gen = try KeysCLI.run(["ca", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-gencrl", "-out", "crl.pem"], in: dir)
        #expect(gen.status == 0, "\(gen.stderr)")

        let crl = try Crypto.loadCRL(.pem, try [UInt8](contentsOf: dir, name: "crl.pem"))
        let entries = try #require(try crl.getRevoked())
        #expect(entries.count == 1)
        #expect(try entries[0].getReason() == Array("Key Compromise".utf8))
        let leafSerial = try KeysCLI.run(["x509", "-noout", "-serial"], input: leaf.cert).text
        #expect(leafSerial == "serial=" + String(decoding: try entries[0].getSerial(), as: UTF8.self) + "\n")
    }
}
