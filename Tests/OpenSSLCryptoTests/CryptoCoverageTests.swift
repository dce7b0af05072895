import COpenSSL
import Foundation
import Testing
@testable import OpenSSLCrypto

/// Gaps found by the coverage audit of the crypto catalogue (docs/pyopenssl-coverage.md): constants without a
/// value check, known answers on pyOpenSSL's `root_cert_pem`, the shape of `crypto.Error`, and the error-queue
/// contract (clear before, drain after) checked against a deliberately dirtied queue.
@Suite struct CryptoCoverageTests {
    // MARK: constants

    @Test func fileTypeConstantsHavePyOpenSSLRawValues() {
        #expect(FileType.pem.rawValue == 1)
        #expect(FileType.asn1.rawValue == 2)
        #expect(FileType.text.rawValue == 65535)
        #expect(Crypto.FILETYPE_PEM == .pem)
        #expect(Crypto.FILETYPE_ASN1 == .asn1)
        #expect(Crypto.FILETYPE_TEXT == .text)
        #expect(FileType(rawValue: 100) == nil, "pyOpenSSL's bad filetype 100 is unrepresentable")
        // The same numbers libssl uses for SSL_FILETYPE_*.
        #expect(FileType.pem.rawValue == SSL_FILETYPE_PEM)
        #expect(FileType.asn1.rawValue == SSL_FILETYPE_ASN1)
    }

    // MARK: crypto.Error

    @Test func errorEntriesAreLibraryFunctionReasonWithAnEmptyFunctionOn30() throws {
        let error = expectKeyAreaError({
            _ = try Crypto.loadPrivateKey(.pem, KeyFixtures.encryptedPrivateKeyPEM, passphrase: .string("wrong"))
        }, KeyErrorKind.openSSL)
        let entries = try #require(error?.entries)
        #expect(!entries.isEmpty)
        for entry in entries {
            #expect(!entry.library.isEmpty)
            #expect(!entry.reason.isEmpty)
            #expect(entry.function == "", "OpenSSL 3.0 no longer reports function names")
            #expect(entry.code != 0)
            #expect(entry.description == "(\(entry.library), , \(entry.reason))")
        }
        #expect(entries.contains { $0.reason == "bad decrypt" })
        #expect(error?.description.hasPrefix("OpenSSL error: (") == true)
        // Argument errors carry a message, not queue entries.
        let argument = CryptoError.invalidArgument("why")
        #expect(argument.entries.isEmpty)
        #expect(argument.description == "invalid argument: why")
        #expect(CryptoError.unsupported("no").description == "unsupported: no")
        #expect(CryptoError.indexOutOfRange("7").description == "index out of range: 7")
    }

    @Test func failureWithoutQueueEntriesStillNamesTheCall() {
        OpenSSLErrorQueue.clear()
        let error = CryptoError.fromQueue("someCall")
        guard case .openSSL(let entries) = error else {
            Issue.record("expected .openSSL, got \(error)")
            return
        }
        #expect(entries.count == 1)
        #expect(entries.first?.function == "someCall")
        #expect(entries.first?.reason == "failed without an OpenSSL error")
    }

    // MARK: known answers on pyOpenSSL's root_cert_pem

    @Test func rootCertificateKnownAnswers() throws {
        let cert = try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM)
        #expect(cert.subjectNameHash() == 3_278_919_224, "0xc3705638, as `openssl x509 -subject_hash`")
        #expect(try cert.getSubject().hash() == 3_278_919_224)
        #expect(cert.getVersion() == 2)
        #expect(try cert.getSerialNumber().hexString == "3D0CC4E0C6DEB9F4")
        #expect(try cert.getSignatureAlgorithm() == "sha256WithRSAEncryption")
        // Both dates are UTCTime in the DER and come back in the four-digit-year form.
        #expect(cert.getNotBefore() == "20200802171119Z")
        #expect(cert.getNotAfter() == "20471220171119Z")
        #expect(try !cert.hasExpired())
        #expect(try cert.digest("sha256")
            == "08:88:2E:3F:0A:98:A4:23:45:60:5C:F0:92:D0:96:AC:1F:D3:FD:33:43:8F:D2:07:84:2B:85:A6:3E:6D:07:E4")
        #expect(try cert.digest("sha1") == "79:87:B3:92:7E:92:AB:7E:3D:40:52:7A:5B:3E:97:D8:33:32:22:06")
        let expected = [["C", "US"], ["ST", "IL"], ["L", "Chicago"], ["O", "Testing"], ["CN", "Testing Root CA"]]
        for name in [cert.getSubject(), cert.getIssuer()] {
            #expect(name.getComponents().map {
                [String(decoding: $0.name, as: UTF8.self), String(decoding: $0.value, as: UTF8.self)]
            } == expected)
        }
        let key = try cert.getPubkey()
        #expect(key.isPublicOnly)
        #expect(key.type() == Crypto.TYPE_RSA)
        #expect(key.bits() == 3072)
    }

    @Test func rootCertificateDERRoundTripIsByteExact() throws {
        let der = KeyFixtures.derBody(ofPEM: KeyFixtures.rootCertPEM)
        let fromPEM = try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM)
        #expect(try Crypto.dumpCertificate(.asn1, fromPEM) == der)
        let fromDER = try Crypto.loadCertificate(.asn1, der)
        #expect(try fromDER.derBytes() == der)
        #expect(try X509(der: der).derBytes() == der)
        #expect(try Crypto.dumpCertificate(.pem, fromDER) == Array(KeyFixtures.rootCertPEM.utf8))
        // The CLI reads the wrapper's DER as the same certificate.
        let cli = try KeysCLI.run(["x509", "-inform", "DER", "-noout", "-subject_hash", "-serial"], input: der)
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(cli.text == "c3705638\nserial=3D0CC4E0C6DEB9F4\n")
    }

    // MARK: passphrases

    @Test func emptyPassphraseBytesAreAValidPassphrase() throws {
        // An empty byte string is a passphrase of length 0, not "no passphrase", and must not crash the
        // trampoline that copies it into OpenSSL's buffer.
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.cleartextPrivateKeyPEM)
        let pem = try Crypto.dumpPrivateKey(.pem, key, cipher: "aes-256-cbc", passphrase: .bytes([]))
        #expect(String(decoding: pem, as: UTF8.self).hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"))
        let reloaded = try Crypto.loadPrivateKey(.pem, pem, passphrase: .bytes([]))
        #expect(try Crypto.dumpPrivateKey(.asn1, reloaded) == Crypto.dumpPrivateKey(.asn1, key))
        let cli = try KeysCLI.run(["pkey", "-noout", "-passin", "pass:"], input: pem)
        #expect(cli.status == 0, "\(cli.stderr)")
        // And an empty passphrase from a callback is a wrong passphrase for a key that has a real one.
        expectKeyAreaError({
            _ = try Crypto.loadPrivateKey(.pem, KeyFixtures.encryptedPrivateKeyPEM, passphrase: .callback { _ in [] })
        }, KeyErrorKind.openSSL)
    }

    // MARK: error-queue contract

    /// Leaves an unrelated entry on this thread's error queue, as a careless earlier call would. Its data names
    /// `staleMarker`, so a thrown error that carried it over is easy to spot.
    static let staleMarker = "PORTCULLIS-STALE-MARKER"

    static func dirtyTheQueue() throws {
        OpenSSLErrorQueue.clear()
        let md = EVP_MD_fetch(nil, staleMarker, nil)
        #expect(md == nil)
        try #require(!OpenSSLErrorQueue.isEmpty, "could not leave a stale error on the queue")
    }

    /// One failing call per public throwing entry point that talks to OpenSSL.
    static func failingCalls() throws -> [(String, () throws -> Void)] {
        let rsa = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        let rootCert = try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM)
        let otherKey = try Crypto.loadPrivateKey(.pem, KeyFixtures.cleartextPrivateKeyPEM)
        let publicKey = try Crypto.loadPublicKey(.pem, KeyFixtures.cleartextPublicKeyPEM)
        let signedRequest = try X509Req()
        try signedRequest.setPubkey(rsa)
        try signedRequest.sign(key: rsa, digest: "sha256")
        let spki = try NetscapeSPKI()
        try spki.setPubkey(rsa)
        try spki.sign(key: rsa, digest: "sha256")
        let signature = try Crypto.sign(key: rsa, data: [1, 2, 3], digest: "sha256")
        let mismatched = PKCS12()
        mismatched.setCertificate(rootCert)
        mismatched.setPrivateKey(otherKey)
        let p12 = PKCS12()
        p12.setCertificate(rootCert)
        p12.setPrivateKey(rsa)
        let p12Data = try p12.export(passphrase: "right", iter: 2)
        let garbage = Array("garbage".utf8)
        // Everything the calls act on exists before the queue is dirtied: constructors clear the queue
        // themselves and would hide a method that forgets to.
        let emptyCert = try X509()
        let name = try X509Name()
        let crl = try CRL()
        let revoked = try Revoked()
        let store = try X509Store()
        let emptyKey = PKey()
        let ecKey = try Crypto.loadPrivateKey(.pem, KeyFixtures.ecPrivateKeyPEM)
        let context = try X509StoreContext(store: store, certificate: rootCert)
        let withExtension = try X509()
        try withExtension.addExtensions([try X509Extension(typeName: "basicConstraints", critical: false, value: "CA:FALSE")])
        return [
            ("loadCertificate pem", { _ = try Crypto.loadCertificate(.pem, garbage) }),
            ("loadCertificate asn1", { _ = try Crypto.loadCertificate(.asn1, garbage) }),
            ("X509(der:)", { _ = try X509(der: garbage) }),
            ("X509.getPubkey", { _ = try emptyCert.getPubkey() }),
            ("X509.setNotBefore", { try emptyCert.setNotBefore("yesterday") }),
            ("X509.digest", { _ = try rootCert.digest("monkeys") }),
            ("X509.sign", { try emptyCert.sign(key: publicKey, digest: "sha256") }),
            ("X509.sign empty key", { try emptyCert.sign(key: emptyKey, digest: "sha256") }),
            ("X509.sign digest", { try emptyCert.sign(key: rsa, digest: "monkeys") }),
            ("X509.setPubkey", { try emptyCert.setPubkey(emptyKey) }),
            ("X509.setSerialNumber", { try emptyCert.setSerialNumber(-1) }),
            ("X509.hasExpired", { _ = try emptyCert.hasExpired() }),
            ("X509.getExtension", { _ = try withExtension.getExtension(at: 1) }),
            ("X509Name.set", { try name.set("C", "USA") }),
            ("X509Name.Field", { _ = try X509Name.Field("noSuchField") }),
            ("X509Extension", { _ = try X509Extension(typeName: "basicConstraints", critical: false, value: "blah") }),
            ("X509Req.setVersion", { try signedRequest.setVersion(1) }),
            ("X509Req.sign", { try signedRequest.sign(key: publicKey, digest: "sha256") }),
            ("X509Req.verify empty key", { _ = try signedRequest.verify(key: emptyKey) }),
            ("X509Req.verify", { _ = try signedRequest.verify(key: otherKey) }),
            ("loadCertificateRequest", { _ = try Crypto.loadCertificateRequest(.asn1, garbage) }),
            ("loadPrivateKey", { _ = try Crypto.loadPrivateKey(.pem, garbage) }),
            ("loadPrivateKey passphrase", {
                _ = try Crypto.loadPrivateKey(.pem, KeyFixtures.encryptedPrivateKeyPEM, passphrase: .string("no"))
            }),
            ("dumpPrivateKey public-only", { _ = try Crypto.dumpPrivateKey(.pem, publicKey) }),
            ("dumpPrivateKey legacy cipher", {
                _ = try Crypto.dumpPrivateKey(.pem, rsa, cipher: "blowfish", passphrase: .string("x"))
            }),
            ("loadPublicKey", { _ = try Crypto.loadPublicKey(.asn1, garbage) }),
            ("PKey.generateKey", { try emptyKey.generateKey(type: Crypto.TYPE_RSA, bits: -1) }),
            ("PKey.generateKey type", { try emptyKey.generateKey(type: Crypto.TYPE_DH, bits: 512) }),
            ("PKey.check empty", { _ = try emptyKey.check() }),
            ("PKey.check public", { _ = try publicKey.check() }),
            ("PKey.check non-RSA", { _ = try ecKey.check() }),
            ("dumpPrivateKey text", { _ = try Crypto.dumpPrivateKey(.text, publicKey, cipher: "aes-256-cbc") }),
            ("dumpPublicKey", { _ = try Crypto.dumpPublicKey(.text, publicKey) }),
            ("PKey.check", { _ = try Crypto.loadPrivateKey(.pem, KeyFixtures.inconsistentPrivateKeyPEM).check() }),
            ("Crypto.sign", { _ = try Crypto.sign(key: publicKey, data: garbage, digest: "sha256") }),
            ("Crypto.verify", { try Crypto.verify(cert: rootCert, signature: signature, data: garbage, digest: "sha256") }),
            ("ellipticCurve", { _ = try Crypto.ellipticCurve(named: "nope") }),
            ("loadCRL", { _ = try Crypto.loadCRL(.pem, garbage) }),
            ("CRL.export", { _ = try crl.export(cert: rootCert, key: publicKey, digest: "sha256") }),
            ("CRL.setLastUpdate", { try crl.setLastUpdate("soon") }),
            ("CRL.sign", { try crl.sign(issuerCert: rootCert, issuerKey: emptyKey, digest: "sha256") }),
            ("Revoked.setReason", { try revoked.setReason("blue") }),
            ("Revoked.setSerial", { try revoked.setSerial(hex: "xyz") }),
            ("Revoked.setRevDate", { try revoked.setRevDate("soon") }),
            ("loadPKCS7Data", { _ = try Crypto.loadPKCS7Data(.asn1, garbage) }),
            ("loadPKCS12 garbage", { _ = try Crypto.loadPKCS12(garbage) }),
            ("loadPKCS12 passphrase", { _ = try Crypto.loadPKCS12(p12Data, passphrase: "wrong") }),
            ("PKCS12.export", { _ = try mismatched.export() }),
            ("NetscapeSPKI(base64:)", { _ = try NetscapeSPKI(base64: "!!!") }),
            ("NetscapeSPKI.sign", { try spki.sign(key: publicKey, digest: "sha256") }),
            ("NetscapeSPKI.setPubkey", { try spki.setPubkey(emptyKey) }),
            ("PKCS12.export NUL", { _ = try p12.export(passphrase: [0x61, 0x00]) }),
            ("loadPKCS12 NUL", { _ = try Crypto.loadPKCS12(p12Data, passphrase: [0x61, 0x00]) }),
            ("NetscapeSPKI.verify", { _ = try spki.verify(key: otherKey) }),
            ("X509Store.loadLocations", { try store.loadLocations(caFile: "/nonexistent/portcullis.pem") }),
            ("X509Store.loadLocations nil", { try store.loadLocations(caFile: nil, caPath: nil) }),
            ("X509Store.addCRL", { try store.addCRL(der: garbage) }),
            ("X509StoreContext.verifyCertificate", { try context.verifyCertificate() }),
            ("X509StoreContext.getVerifiedChain", { _ = try context.getVerifiedChain() }),
        ]
    }

    @Test func staleQueueEntriesNeverReachAThrownErrorAndNothingIsLeftBehind() throws {
        for (name, call) in try Self.failingCalls() {
            try Self.dirtyTheQueue()
            do {
                try call()
                Issue.record("\(name): expected an error")
            } catch {
                let entries = (error as? CryptoError)?.entries ?? []
                #expect(!entries.contains { $0.data.contains(Self.staleMarker) }, "\(name) carried a stale entry: \(error)")
                #expect(OpenSSLErrorQueue.isEmpty, "\(name) left the queue dirty after \(error)")
                #expect(error is CryptoError || error is X509StoreContextError, "\(name): \(error)")
            }
        }
        OpenSSLErrorQueue.clear()
    }

    @Test func constructorsStartFromACleanQueue() throws {
        // These only fail when OpenSSL runs out of memory, but they must not carry an earlier call's entries
        // into that error either: each clears the queue before allocating.
        let constructors: [(String, () throws -> Void)] = [
            ("X509", { _ = try X509() }), ("X509Name", { _ = try X509Name() }), ("X509Req", { _ = try X509Req() }),
            ("X509Store", { _ = try X509Store() }), ("CRL", { _ = try CRL() }), ("Revoked", { _ = try Revoked() }),
            ("NetscapeSPKI", { _ = try NetscapeSPKI() }),
        ]
        for (name, make) in constructors {
            try Self.dirtyTheQueue()
            try make()
            #expect(OpenSSLErrorQueue.isEmpty, "\(name)() left an earlier entry on the queue")
        }
    }
}
