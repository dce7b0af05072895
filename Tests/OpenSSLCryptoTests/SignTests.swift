import Foundation
import Testing
@testable import OpenSSLCrypto

/// pyOpenSSL's TestSignVerify cases.
@Suite struct SignTests {
    static let content = Array(("It was a bright cold day in April, and the clocks were striking thirteen. Winston Smith, his "
        + "chin nuzzled into his breast in an effort to escape the vile wind, slipped quickly through the glass "
        + "doors of Victory Mansions, though not quickly enough to prevent a swirl of gritty dust from entering "
        + "along with him.").utf8)

    @Test(arguments: ["md5", "sha1", "sha256"])
    func signVerify(digest: String) throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        let goodCert = try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM)
        let other = try KeysCLI.selfSignedCertificate(subject: "/CN=unrelated")
        let badCert = try Crypto.loadCertificate(.pem, other.cert)

        let signature = try Crypto.sign(key: key, data: Self.content, digest: digest)
        #expect(signature.count == 384)
        try Crypto.verify(cert: goodCert, signature: signature, data: Self.content, digest: digest)
        expectKeyAreaError({ try Crypto.verify(cert: badCert, signature: signature, data: Self.content, digest: digest) },
                           KeyErrorKind.openSSL)
        expectKeyAreaError({
            try Crypto.verify(cert: goodCert, signature: signature, data: Self.content + Array("tainted".utf8), digest: digest)
        }, KeyErrorKind.openSSL)
        // RSA PKCS#1 v1.5 is deterministic: the CLI makes the same signature.
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try Crypto.dumpPrivateKey(.pem, key).write(to: dir, name: "key.pem")
        let cli = try KeysCLI.run(["dgst", "-\(digest)", "-sign", "key.pem"], input: Self.content, in: dir)
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(cli.stdout == signature)
    }

    @Test func unknownDigestIsAnArgumentError() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        let cert = try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM)
        let signature = try Crypto.sign(key: key, data: Self.content, digest: "sha256")
        expectKeyAreaError({ _ = try Crypto.sign(key: key, data: Self.content, digest: "strange-digest") }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ try Crypto.verify(cert: cert, signature: signature, data: Self.content, digest: "strange-digest") },
                           KeyErrorKind.invalidArgument)
    }

    @Test func ecdsaSignaturesVerifyThroughTheCLI() throws {
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.ecPrivateKeyPEM)
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try Array(KeyFixtures.ecPrivateKeyPEM.utf8).write(to: dir, name: "key.pem")
        let req = try KeysCLI.run(["req", "-x509", "-new", "-key", "key.pem", "-subj", "/CN=ec", "-days", "1", "-out", "cert.pem"], in: dir)
        #expect(req.status == 0, "\(req.stderr)")
        let cert = try Crypto.loadCertificate(.pem, try [UInt8](contentsOf: dir, name: "cert.pem"))
        // X9.62 signatures vary in length; sign several times to cross different lengths.
        for _ in 0..<8 {
            let signature = try Crypto.sign(key: key, data: Self.content, digest: "sha256")
            try Crypto.verify(cert: cert, signature: signature, data: Self.content, digest: "sha256")
            try signature.write(to: dir, name: "sig.bin")
            try Crypto.dumpPublicKey(.pem, key).write(to: dir, name: "pub.pem")
            let cli = try KeysCLI.run(["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.bin"], input: Self.content, in: dir)
            #expect(cli.status == 0, "\(cli.text) \(cli.stderr)")
        }
    }

    @Test func signsDataWithEmbeddedNULs() throws {
        let content = Array("Watch out!  \0  Did you see it?".utf8)
        let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        let cert = try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM)
        let signature = try Crypto.sign(key: key, data: content, digest: "sha256")
        try Crypto.verify(cert: cert, signature: signature, data: content, digest: "sha256")
        expectKeyAreaError({ try Crypto.verify(cert: cert, signature: signature, data: content.prefix(12), digest: "sha256") },
                           KeyErrorKind.openSSL)
    }

    @Test func signsWithALargeOddSizedKey() throws {
        let key = PKey()
        try key.generateKey(type: Crypto.TYPE_RSA, bits: 4200)
        let signature = try Crypto.sign(key: key, data: Self.content, digest: "sha256")
        #expect(signature.count == 525)
    }

    @Test func cannotSignWithPublicOrEmptyKey() throws {
        let pub = try Crypto.loadPublicKey(.pem, KeyFixtures.cleartextPublicKeyPEM)
        expectKeyAreaError({ _ = try Crypto.sign(key: pub, data: Self.content, digest: "sha256") }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ _ = try Crypto.sign(key: PKey(), data: Self.content, digest: "sha256") }, KeyErrorKind.invalidArgument)
    }
}

extension Array where Element == UInt8 {
    func write(to directory: URL, name: String) throws {
        try Data(self).write(to: directory.appendingPathComponent(name))
    }

    init(contentsOf directory: URL, name: String) throws {
        self = Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }
}
