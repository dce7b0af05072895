import Foundation
import Testing
@testable import OpenSSLCrypto

/// pyOpenSSL's TestNetscapeSPKI and signing-mixin cases, cross-checked with `openssl spkac`.
@Suite struct NetscapeSPKITests {
    @Test func signedSPKACVerifiesHereAndInTheCLI() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        let spki = try NetscapeSPKI()
        try spki.setPubkey(key)
        try spki.sign(key: key, digest: "SHA256")
        #expect(try spki.verify(key: key))
        let blob = try spki.b64Encode()
        #expect(!blob.isEmpty)

        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try (Array("SPKAC=".utf8) + blob + [0x0A]).write(to: dir, name: "spkac.cnf")
        let cli = try KeysCLI.run(["spkac", "-in", "spkac.cnf", "-verify", "-noout"], in: dir)
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(cli.stderr.contains("Signature OK"))

        // The blob decodes back (the 0.13 NetscapeSPKI(enc) form) to the same key.
        let decoded = try NetscapeSPKI(base64: blob)
        #expect(try decoded.verify(key: key))
        let pub = try decoded.getPubkey()
        #expect(pub.isPublicOnly)
        #expect(try Crypto.dumpPublicKey(.asn1, pub) == Crypto.dumpPublicKey(.asn1, key))
    }

    @Test func cliMadeSPKACLoads() throws {
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try Array(KeyFixtures.cleartextPrivateKeyPEM.utf8).write(to: dir, name: "key.pem")
        let cli = try KeysCLI.run(["spkac", "-key", "key.pem", "-challenge", "hello"], in: dir)
        #expect(cli.status == 0, "\(cli.stderr)")
        let line = cli.text.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line.hasPrefix("SPKAC="))
        let spki = try NetscapeSPKI(base64: String(line.dropFirst("SPKAC=".count)))
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.cleartextPrivateKeyPEM)
        #expect(try spki.verify(key: key))
        #expect(try Crypto.dumpPublicKey(.asn1, spki.getPubkey()) == Crypto.dumpPublicKey(.asn1, key))
        expectKeyAreaError({ _ = try NetscapeSPKI(base64: "not base64 at all!") }, KeyErrorKind.openSSL)
    }

    @Test func signRefusals() throws {
        let spki = try NetscapeSPKI()
        expectKeyAreaError({ try spki.sign(key: PKey(), digest: "SHA256") }, KeyErrorKind.invalidArgument)
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.cleartextPrivateKeyPEM)
        try spki.setPubkey(key)
        expectKeyAreaError({ try spki.sign(key: spki.getPubkey(), digest: "SHA256") }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ try spki.sign(key: key, digest: "monkeys") }, KeyErrorKind.invalidArgument)
    }

    @Test func verifyWithTheWrongKeyFails() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.cleartextPrivateKeyPEM)
        let other = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        let spki = try NetscapeSPKI()
        try spki.setPubkey(key)
        try spki.sign(key: key, digest: "sha256")
        #expect(try spki.verify(key: spki.getPubkey()))
        expectKeyAreaError({ _ = try spki.verify(key: other) }, KeyErrorKind.openSSL)
        expectKeyAreaError({ _ = try spki.verify(key: PKey()) }, KeyErrorKind.invalidArgument)
    }
}
