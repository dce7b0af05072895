import Testing
@testable import OpenSSLCrypto

@Suite struct PKeyTests {
    @Test func typeConstantsHaveOpenSSLValues() {
        #expect(Crypto.TYPE_RSA == 6)
        #expect(Crypto.TYPE_DSA == 116)
        #expect(Crypto.TYPE_DH == 28)
        #expect(Crypto.TYPE_EC == 408)
        #expect(Crypto.TYPE_ED25519 == 1087)
        #expect(Crypto.TYPE_ED448 == 1088)
    }

    @Test func emptyKeyHasNoTypeOrBitsAndCannotBeChecked() {
        let key = PKey()
        #expect(key.type() == 0)
        #expect(key.bits() == 0)
        expectKeyAreaError({ _ = try key.check() }, KeyErrorKind.invalidArgument)
    }

    @Test func failedGeneration() {
        let key = PKey()
        expectKeyAreaError({ try key.generateKey(type: -1, bits: 0) }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ try key.generateKey(type: Crypto.TYPE_RSA, bits: -1) }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ try key.generateKey(type: Crypto.TYPE_RSA, bits: 0) }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ try key.generateKey(type: Crypto.TYPE_DH, bits: 512) }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ try key.generateKey(type: Crypto.TYPE_ED25519, bits: 512) }, KeyErrorKind.invalidArgument)
        #expect(key.type() == 0, "a failed generation leaves the container empty")
    }

    @Test func rsaGeneration() throws {
        let key = PKey()
        try key.generateKey(type: Crypto.TYPE_RSA, bits: 2048)
        #expect(key.type() == Crypto.TYPE_RSA)
        #expect(key.bits() == 2048)
        #expect(try key.check())
        #expect(!key.isPublicOnly)
        // e = 65537: the PKCS#1 DER of the public key ends with INTEGER 01 00 01.
        let spki = try Crypto.dumpPublicKey(.asn1, key)
        #expect(spki.suffix(5) == [0x02, 0x03, 0x01, 0x00, 0x01])
    }

    @Test func dsaGenerationCannotBeChecked() throws {
        let key = PKey()
        try key.generateKey(type: Crypto.TYPE_DSA, bits: 512)
        #expect(key.type() == Crypto.TYPE_DSA)
        #expect(key.bits() == 512)
        expectKeyAreaError({ _ = try key.check() }, KeyErrorKind.unsupported)
    }

    @Test func regeneration() throws {
        let key = PKey()
        for (type, bits) in [(Crypto.TYPE_RSA, 1024), (Crypto.TYPE_DSA, 576), (Crypto.TYPE_RSA, 2048)] {
            try key.generateKey(type: type, bits: bits)
            #expect(key.type() == type)
            #expect(key.bits() == bits)
        }
    }

    @Test(arguments: ["prime256v1", "secp384r1", "secp521r1"])
    func ecGeneration(curveName: String) throws {
        let key = PKey()
        try key.generateKey(curve: Crypto.ellipticCurve(named: curveName))
        #expect(key.type() == Crypto.TYPE_EC)
        #expect(key.bits() == ["prime256v1": 256, "secp384r1": 384, "secp521r1": 521][curveName])
        // The CLI agrees the generated key is a valid key on that curve.
        let pem = try Crypto.dumpPrivateKey(.pem, key)
        let result = try KeysCLI.run(["pkey", "-noout", "-text"], input: pem)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.text.contains(curveName == "prime256v1" ? "prime256v1" : curveName))
        expectKeyAreaError({ _ = try key.check() }, KeyErrorKind.unsupported)
    }

    @Test func ed25519Generation() throws {
        let key = PKey()
        try key.generateKey(type: Crypto.TYPE_ED25519, bits: 0)
        #expect(key.type() == Crypto.TYPE_ED25519)
        #expect(key.bits() == 256)
        let result = try KeysCLI.run(["pkey", "-noout", "-text"], input: try Crypto.dumpPrivateKey(.pem, key))
        #expect(result.status == 0)
        #expect(result.text.contains("ED25519 Private-Key"))
        try key.generateKey(type: Crypto.TYPE_ED448, bits: 456)
        #expect(key.type() == Crypto.TYPE_ED448)
        #expect(key.bits() == 456)
    }

    @Test func inconsistentKeyIsRejectedAtLoadOrCheck() {
        expectKeyAreaError({
            let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.inconsistentPrivateKeyPEM)
            _ = try key.check()
        }, KeyErrorKind.openSSL)
    }

    @Test func rsaKeyWithNonPrimePIsRejectedAtLoadOrCheck() {
        expectKeyAreaError({
            let key = try Crypto.loadPrivateKey(.pem, KeyFixtures.rsaPNotPrimePEM)
            _ = try key.check()
        }, KeyErrorKind.openSSL)
    }

    @Test func publicOnlyKeyCannotBeChecked() throws {
        let key = try Crypto.loadPublicKey(.pem, KeyFixtures.cleartextPublicKeyPEM)
        #expect(key.isPublicOnly)
        let error = expectKeyAreaError({ _ = try key.check() }, KeyErrorKind.invalidArgument)
        // Distinct from the non-RSA refusal.
        #expect(!(error.map(KeyErrorKind.unsupported) ?? true))
    }

    @Test func publicKeyOfCertificateIsPublicOnly() throws {
        let cert = try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM)
        let key = try Crypto.loadPublicKey(.asn1, KeyFixtures.derBody(ofPEM: String(decoding: try Crypto.dumpPublicKey(.pem, Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)), as: UTF8.self)))
        #expect(key.bits() == 3072)
        // sign/verify round trip through the certificate's own key proves the halves match.
        let signature = try Crypto.sign(key: Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM), data: [1, 2, 3], digest: "sha256")
        try Crypto.verify(cert: cert, signature: signature, data: [1, 2, 3], digest: "sha256")
    }

    @Test func loadedKeyTypes() throws {
        let ec = try Crypto.loadPrivateKey(.pem, KeyFixtures.ecPrivateKeyPEM)
        #expect(ec.type() == Crypto.TYPE_EC)
        #expect(ec.bits() == 256)
        let ed = try Crypto.loadPrivateKey(.pem, KeyFixtures.ed25519PrivateKeyPEM)
        #expect(ed.type() == Crypto.TYPE_ED25519)
        let rsa = try Crypto.loadPrivateKey(.pem, KeyFixtures.rootKeyPEM)
        #expect(rsa.type() == Crypto.TYPE_RSA)
        #expect(rsa.bits() == 3072)
        #expect(try rsa.check())
    }
}
