import Foundation
import Testing
@testable import OpenSSLCrypto

/// pyOpenSSL's load_privatekey / dump_privatekey / load_publickey / dump_publickey cases.
@Suite struct KeyLoadDumpTests {
    private final class Calls: @unchecked Sendable { var flags: [Bool] = [] }
    private struct CallbackFailure: Error, Equatable {}

    // MARK: load_privatekey

    @Test func loadPrivateKeyRejectsTextType() {
        expectKeyAreaError({ _ = try Crypto.loadPrivateKey(.text, KeyFixtures.rootKeyPEM) }, KeyErrorKind.invalidArgument)
    }

    @Test func loadEncryptedKeyWithPassphrase() throws {
        let key = try Crypto.loadPrivateKey(
            .pem, KeyFixtures.encryptedPrivateKeyPEM, passphrase: .bytes(KeyFixtures.encryptedPrivateKeyPassphrase))
        #expect(key.type() == Crypto.TYPE_RSA)
        #expect(key.bits() == 1024)
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func loadEncryptedKeyWithWrongPassphraseFailsCleanly() {
        let error = expectKeyAreaError({
            _ = try Crypto.loadPrivateKey(.pem, KeyFixtures.encryptedPrivateKeyPEM, passphrase: .string("quack"))
        }, KeyErrorKind.openSSL)
        #expect(error?.entries.isEmpty == false)
    }

    @Test func loadEncryptedKeyWithoutPassphraseNeverPrompts() {
        // No terminal prompt: the non-interactive callback refuses, so this fails at once.
        expectKeyAreaError({ _ = try Crypto.loadPrivateKey(.pem, KeyFixtures.encryptedPrivateKeyPEM) }, KeyErrorKind.openSSL)
    }

    @Test func passphraseWithDERIsAnArgumentError() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        let der = try Crypto.dumpPrivateKey(.asn1, key)
        expectKeyAreaError({ _ = try Crypto.loadPrivateKey(.asn1, der, passphrase: .string("secret")) }, KeyErrorKind.invalidArgument)
    }

    @Test func passphraseCallbackIsCalledOnceForReading() throws {
        let calls = Calls()
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.encryptedPrivateKeyPEM, passphrase: .callback { writing in
            calls.flags.append(writing)
            return KeyFixtures.encryptedPrivateKeyPassphrase
        })
        #expect(key.bits() == 1024)
        #expect(calls.flags == [false])
    }

    @Test func wrongPassphraseFromCallbackIsAnOpenSSLError() {
        let calls = Calls()
        let error = expectKeyAreaError({
            _ = try Crypto.loadPrivateKey(.pem, KeyFixtures.encryptedPrivateKeyPEM, passphrase: .callback { writing in
                calls.flags.append(writing)
                return Array("quack".utf8)
            })
        }, KeyErrorKind.openSSL)
        #expect(!calls.flags.isEmpty)
        #expect(error?.entries.isEmpty == false)
    }

    @Test func callbackErrorIsRethrownUnchanged() {
        #expect(throws: CallbackFailure()) {
            _ = try Crypto.loadPrivateKey(.pem, KeyFixtures.encryptedPrivateKeyPEM, passphrase: .callback { _ in
                throw CallbackFailure()
            })
        }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func overlongCallbackPassphraseIsRejectedNotTruncated() {
        let error = expectKeyAreaError({
            _ = try Crypto.loadPrivateKey(.pem, KeyFixtures.encryptedPrivateKeyPEM, passphrase: .callback { _ in
                [UInt8](repeating: UInt8(ascii: "a"), count: 1025)
            })
        }, KeyErrorKind.invalidArgument)
        #expect("\(error.map { "\($0)" } ?? "")".contains("too long"))
    }

    @Test func loadDERKnownAnswer() throws {
        let key = try Crypto.loadPrivateKey(.asn1, KeyFixtures.derBody(ofPEM: KeyFixtures.rootKeyPEM))
        #expect(key.bits() == 3072)
        #expect(key.type() == Crypto.TYPE_RSA)
    }

    @Test func garbageIsAnOpenSSLError() {
        expectKeyAreaError({ _ = try Crypto.loadPrivateKey(.pem, "hello, world") }, KeyErrorKind.openSSL)
        expectKeyAreaError({ _ = try Crypto.loadPrivateKey(.asn1, [UInt8]("lol".utf8)) }, KeyErrorKind.openSSL)
    }

    // MARK: dump_privatekey

    @Test func dumpPEMIsPKCS8AndMatchesTheCLI() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        let pem = try Crypto.dumpPrivateKey(.pem, key)
        #expect(String(decoding: pem, as: UTF8.self).hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        // Known answer: what `openssl pkey` writes for the same key (PKCS#8 on 3.0).
        let cli = try KeysCLI.run(["pkey"], input: Array(KeyFixtures.rootKeyPEM.utf8))
        #expect(cli.status == 0)
        #expect(pem == cli.stdout)
        // Normalised form is stable.
        #expect(try Crypto.dumpPrivateKey(.pem, Crypto.loadPrivateKey(.pem, pem)) == pem)
    }

    @Test func dumpDERKnownAnswer() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        #expect(try Crypto.dumpPrivateKey(.asn1, key) == KeyFixtures.derBody(ofPEM: KeyFixtures.rootKeyPEM))
    }

    @Test func dumpTextOnlyForRSA() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        let text = try Crypto.dumpPrivateKey(.text, key)
        #expect(text.count > 500)
        #expect(String(decoding: text, as: UTF8.self).contains("Private-Key: (3072 bit, 2 primes)"))
        let dsa = PKey()
        try dsa.generateKey(type: Crypto.TYPE_DSA, bits: 512)
        expectKeyAreaError({ _ = try Crypto.dumpPrivateKey(.text, dsa) }, KeyErrorKind.invalidArgument)
    }

    @Test func dumpArgumentErrors() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.cleartextPrivateKeyPEM)
        expectKeyAreaError({ _ = try Crypto.dumpPrivateKey(.pem, key, cipher: "aes-256-cbc") }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ _ = try Crypto.dumpPrivateKey(.pem, key, passphrase: .string("x")) }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ _ = try Crypto.dumpPrivateKey(.pem, key, cipher: "zippers", passphrase: .string("x")) },
                           KeyErrorKind.invalidArgument)
        expectKeyAreaError({ _ = try Crypto.dumpPrivateKey(.asn1, key, cipher: "aes-256-cbc", passphrase: .string("x")) },
                           KeyErrorKind.invalidArgument)
        expectKeyAreaError({ _ = try Crypto.dumpPrivateKey(.pem, PKey()) }, KeyErrorKind.invalidArgument)
    }

    @Test func legacyOnlyCipherIsUnsupported() throws {
        // pyOpenSSL's GOOD_CIPHER "blowfish" lives in OpenSSL 3.0's legacy provider only.
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.cleartextPrivateKeyPEM)
        expectKeyAreaError({ _ = try Crypto.dumpPrivateKey(.pem, key, cipher: "blowfish", passphrase: .string("foo")) },
                           KeyErrorKind.unsupported)
    }

    @Test func encryptedDumpRoundTripsAndTheCLIReadsIt() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        let pem = try Crypto.dumpPrivateKey(.pem, key, cipher: "aes-256-cbc", passphrase: .string("foo"))
        #expect(String(decoding: pem, as: UTF8.self).hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"))
        let loaded = try Crypto.loadPrivateKey(.pem, pem, passphrase: .string("foo"))
        #expect(loaded.type() == key.type())
        #expect(loaded.bits() == key.bits())
        #expect(try Crypto.dumpPrivateKey(.asn1, loaded) == Crypto.dumpPrivateKey(.asn1, key))
        let cli = try KeysCLI.run(["pkey", "-noout", "-passin", "pass:foo"], input: pem)
        #expect(cli.status == 0, "\(cli.stderr)")
        let wrong = try KeysCLI.run(["pkey", "-noout", "-passin", "pass:bar"], input: pem)
        #expect(wrong.status != 0)
        expectKeyAreaError({ _ = try Crypto.loadPrivateKey(.pem, pem, passphrase: .string("bar")) }, KeyErrorKind.openSSL)
    }

    @Test func cliEncryptedKeyLoads() throws {
        let cli = try KeysCLI.run(["pkey", "-aes-128-cbc", "-passout", "pass:s3cret"], input: Array(KeyFixtures.ecPrivateKeyPEM.utf8))
        #expect(cli.status == 0)
        let key = try Crypto.loadPrivateKey(.pem, cli.stdout, passphrase: .string("s3cret"))
        #expect(key.type() == Crypto.TYPE_EC)
        #expect(try Crypto.dumpPrivateKey(.pem, key) == Array(KeyFixtures.ecPrivateKeyPEM.utf8))
    }

    @Test func dumpCallbackIsCalledOnceForWriting() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        let calls = Calls()
        let pem = try Crypto.dumpPrivateKey(.pem, key, cipher: "aes-256-cbc", passphrase: .callback { writing in
            calls.flags.append(writing)
            return Array("foo".utf8)
        })
        #expect(calls.flags == [true])
        #expect(try Crypto.loadPrivateKey(.pem, pem, passphrase: .string("foo")).bits() == 3072)
    }

    @Test func dumpCallbackErrorIsRethrown() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.cleartextPrivateKeyPEM)
        #expect(throws: CallbackFailure()) {
            _ = try Crypto.dumpPrivateKey(.pem, key, cipher: "aes-256-cbc", passphrase: .callback { _ in throw CallbackFailure() })
        }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func dumpOverlongCallbackPassphraseIsRejected() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.cleartextPrivateKeyPEM)
        expectKeyAreaError({
            _ = try Crypto.dumpPrivateKey(.pem, key, cipher: "aes-256-cbc", passphrase: .callback { _ in
                [UInt8](repeating: UInt8(ascii: "a"), count: 1025)
            })
        }, KeyErrorKind.invalidArgument)
    }

    @Test func passphraseWithNULIsNotTruncatedOnDump() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.cleartextPrivateKeyPEM)
        let pem = try Crypto.dumpPrivateKey(.pem, key, cipher: "AES-256-CBC", passphrase: .bytes(Array("foo\0bar".utf8)))
        expectKeyAreaError({ _ = try Crypto.loadPrivateKey(.pem, pem, passphrase: .string("foo")) }, KeyErrorKind.openSSL)
        #expect(try Crypto.loadPrivateKey(.pem, pem, passphrase: .bytes(Array("foo\0bar".utf8))).bits() == 1024)
    }

    @Test func passphraseWithNULIsNotTruncatedOnLoad() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.cleartextPrivateKeyPEM)
        let pem = try Crypto.dumpPrivateKey(.pem, key, cipher: "AES-256-CBC", passphrase: .string("foo"))
        expectKeyAreaError({ _ = try Crypto.loadPrivateKey(.pem, pem, passphrase: .bytes(Array("foo\0bar".utf8))) },
                           KeyErrorKind.openSSL)
    }

    @Test func cliReadsDumpedKeysOfEveryType() throws {
        for pem in [KeyFixtures.rootKeyPEM, KeyFixtures.ecPrivateKeyPEM, KeyFixtures.ed25519PrivateKeyPEM] {
            let key = try Crypto.loadPrivateKey(.pem, pem)
            let der = try Crypto.dumpPrivateKey(.asn1, key)
            let cli = try KeysCLI.run(["pkey", "-inform", "DER", "-noout"], input: der)
            #expect(cli.status == 0, "\(cli.stderr)")
            #expect(try Crypto.loadPrivateKey(.asn1, der).type() == key.type())
        }
    }

    // MARK: load_publickey / dump_publickey

    @Test func loadPublicKey() throws {
        let key = try Crypto.loadPublicKey(.pem, KeyFixtures.cleartextPublicKeyPEM)
        #expect(key.isPublicOnly)
        #expect(key.bits() == 2048)
        #expect(key.type() == Crypto.TYPE_RSA)
    }

    @Test func publicKeyTypeErrors() throws {
        expectKeyAreaError({ _ = try Crypto.loadPublicKey(.text, KeyFixtures.cleartextPublicKeyPEM) }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ _ = try Crypto.loadPublicKey(.asn1, Array(KeyFixtures.cleartextPublicKeyPEM.utf8)) }, KeyErrorKind.openSSL)
        let key = try Crypto.loadPublicKey(.pem, KeyFixtures.cleartextPublicKeyPEM)
        expectKeyAreaError({ _ = try Crypto.dumpPublicKey(.text, key) }, KeyErrorKind.invalidArgument)
    }

    @Test func dumpPublicKeyPEMIsByteIdentical() throws {
        let key = try Crypto.loadPublicKey(.pem, KeyFixtures.cleartextPublicKeyPEM)
        #expect(try Crypto.dumpPublicKey(.pem, key) == Array(KeyFixtures.cleartextPublicKeyPEM.utf8))
    }

    @Test func dumpPublicKeyDERRoundTrips() throws {
        let key = try Crypto.loadPublicKey(.pem, KeyFixtures.cleartextPublicKeyPEM)
        let der = try Crypto.dumpPublicKey(.asn1, key)
        #expect(der == KeyFixtures.derBody(ofPEM: KeyFixtures.cleartextPublicKeyPEM))
        #expect(try Crypto.dumpPublicKey(.pem, Crypto.loadPublicKey(.asn1, der)) == Array(KeyFixtures.cleartextPublicKeyPEM.utf8))
    }

    @Test func publicHalfOfPrivateKeyMatchesTheCLI() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.ecPrivateKeyPEM)
        let cli = try KeysCLI.run(["pkey", "-pubout"], input: Array(KeyFixtures.ecPrivateKeyPEM.utf8))
        #expect(try Crypto.dumpPublicKey(.pem, key) == cli.stdout)
        let loaded = try Crypto.loadPublicKey(.pem, cli.stdout)
        #expect(loaded.isPublicOnly)
        #expect(loaded.type() == Crypto.TYPE_EC)
        // A public-only key has no private half to dump.
        expectKeyAreaError({ _ = try Crypto.dumpPrivateKey(.pem, loaded) }, KeyErrorKind.openSSL)
    }
}
