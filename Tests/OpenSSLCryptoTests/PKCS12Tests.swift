import Foundation
import Testing
@testable import OpenSSLCrypto

/// pyOpenSSL's TestPKCS12 cases, with `openssl pkcs12` reading what the wrapper writes and the reverse.
@Suite struct PKCS12Tests {
    /// A CLI-made self-signed certificate and key, loaded.
    struct Identity {
        let certPEM: [UInt8]
        let keyPEM: [UInt8]
        let cert: X509
        let key: PKey

        init(_ subject: String) throws {
            (certPEM, keyPEM) = try KeysCLI.selfSignedCertificate(subject: subject)
            cert = try Crypto.loadCertificate(.pem, certPEM)
            key = try Crypto.loadPrivateKey(.pem, keyPEM)
        }
    }

    static func bundle(_ leaf: Identity, ca: X509? = nil) -> PKCS12 {
        let p12 = PKCS12()
        p12.setCertificate(leaf.cert)
        p12.setPrivateKey(leaf.key)
        if let ca { p12.setCACertificates([ca]) }
        return p12
    }

    static func der(_ cert: X509?) throws -> [UInt8]? { try cert.map { try Crypto.dumpCertificate(.asn1, $0) } }

    /// `openssl pkcs12` run over `data` with `-passin pass:<passphrase>` and `args`; returns stdout text.
    static func cli(_ data: [UInt8], passphrase: String, _ args: [String]) throws -> KeysCLI.Result {
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try data.write(to: dir, name: "bundle.p12")
        return try KeysCLI.run(["pkcs12", "-in", "bundle.p12", "-passin", "pass:\(passphrase)"] + args, in: dir)
    }

    /// Checks, as pyOpenSSL's check_recovery does, that the CLI recovers key, certificate and CA.
    static func expectRecovery(
        _ data: [UInt8], passphrase: String, key: PKey, cert: X509, ca: X509? = nil, extra: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let keyOut = try cli(data, passphrase: passphrase, ["-nocerts", "-nodes"] + extra)
        #expect(keyOut.status == 0, "\(keyOut.stderr)", sourceLocation: sourceLocation)
        #expect(keyOut.text.hasSuffix(String(decoding: try Crypto.dumpPrivateKey(.pem, key), as: UTF8.self)),
                sourceLocation: sourceLocation)
        let certOut = try cli(data, passphrase: passphrase, ["-clcerts", "-nokeys"] + extra)
        #expect(certOut.text.hasSuffix(String(decoding: try Crypto.dumpCertificate(.pem, cert), as: UTF8.self)),
                sourceLocation: sourceLocation)
        if let ca {
            let caOut = try cli(data, passphrase: passphrase, ["-cacerts", "-nokeys"] + extra)
            #expect(caOut.text.hasSuffix(String(decoding: try Crypto.dumpCertificate(.pem, ca), as: UTF8.self)),
                    sourceLocation: sourceLocation)
        }
    }

    @Test func emptyBundle() {
        let p12 = PKCS12()
        #expect(p12.getCertificate() == nil)
        #expect(p12.getPrivateKey() == nil)
        #expect(p12.getCACertificates() == nil)
        #expect(p12.getFriendlyName() == nil)
    }

    @Test func keyOnlyExportsAndLoads() throws {
        let leaf = try Identity("/CN=key only")
        let p12 = PKCS12()
        p12.setPrivateKey(leaf.key)
        #expect(p12.getCertificate() == nil)
        #expect(p12.getPrivateKey() === leaf.key)
        let data = try p12.export(passphrase: "blah", iter: 2, macIter: 3)
        let loaded = try Crypto.loadPKCS12(data, passphrase: "blah")
        #expect(loaded.getCertificate() == nil)
        #expect(try Crypto.dumpPrivateKey(.asn1, #require(loaded.getPrivateKey())) == Crypto.dumpPrivateKey(.asn1, leaf.key))
    }

    @Test func certOnlyComesBackAsCA() throws {
        let leaf = try Identity("/CN=cert only")
        let p12 = PKCS12()
        p12.setCertificate(leaf.cert)
        #expect(p12.getCertificate() === leaf.cert)
        #expect(p12.getPrivateKey() == nil)
        let data = try p12.export(passphrase: "blah", iter: 2, macIter: 3)
        // Without a key to match it, PKCS12_parse files the certificate under the CA certificates.
        let loaded = try Crypto.loadPKCS12(data, passphrase: "blah")
        #expect(loaded.getPrivateKey() == nil)
        #expect(loaded.getCertificate() == nil)
        #expect(try loaded.getCACertificates()?.map { try Crypto.dumpCertificate(.asn1, $0) } == [Self.der(leaf.cert)!])
    }

    @Test func cliExportLoads() throws {
        let leaf = try Identity("/CN=cli export")
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try leaf.certPEM.write(to: dir, name: "cert.pem")
        try leaf.keyPEM.write(to: dir, name: "key.pem")
        let made = try KeysCLI.run(["pkcs12", "-export", "-in", "cert.pem", "-inkey", "key.pem", "-name", "my alias",
                                    "-passout", "pass:whatever", "-out", "b.p12"], in: dir)
        #expect(made.status == 0, "\(made.stderr)")
        let loaded = try Crypto.loadPKCS12(try [UInt8](contentsOf: dir, name: "b.p12"), passphrase: "whatever")
        #expect(try Self.der(loaded.getCertificate()) == Self.der(leaf.cert))
        #expect(try Crypto.dumpPrivateKey(.asn1, #require(loaded.getPrivateKey())) == Crypto.dumpPrivateKey(.asn1, leaf.key))
        #expect(loaded.getCACertificates() == nil)
        #expect(loaded.getFriendlyName() == Array("my alias".utf8))
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test(arguments: [(nil, nil), (nil, ""), ("", nil), ("", "")] as [(String?, String?)])
    func emptyAndMissingPassphrasesAreEquivalent(exportWith: String?, loadWith: String?) throws {
        let leaf = try Identity("/CN=no passphrase")
        let data = try Self.bundle(leaf).export(passphrase: exportWith.map { Array($0.utf8) })
        let loaded = try Crypto.loadPKCS12(data, passphrase: loadWith.map { Array($0.utf8) })
        #expect(try Self.der(loaded.getCertificate()) == Self.der(leaf.cert))
        try Self.expectRecovery(data, passphrase: "", key: leaf.key, cert: leaf.cert)
    }

    @Test func cliExportWithEmptyPassphraseLoadsWithoutOne() throws {
        let leaf = try Identity("/CN=empty cli")
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try leaf.certPEM.write(to: dir, name: "cert.pem")
        try leaf.keyPEM.write(to: dir, name: "key.pem")
        let made = try KeysCLI.run(["pkcs12", "-export", "-in", "cert.pem", "-inkey", "key.pem", "-passout", "pass:", "-out", "b.p12"], in: dir)
        #expect(made.status == 0)
        let data = try [UInt8](contentsOf: dir, name: "b.p12")
        for passphrase in [nil, [UInt8]()] {
            let loaded = try Crypto.loadPKCS12(data, passphrase: passphrase)
            #expect(try Self.der(loaded.getCertificate()) == Self.der(leaf.cert))
        }
    }

    @Test func garbageAndWrongPassphrase() throws {
        let error = expectKeyAreaError({ _ = try Crypto.loadPKCS12([UInt8]("fruit loops".utf8)) }, KeyErrorKind.openSSL)
        #expect(error?.entries.first?.library == "asn1 encoding routines")
        let leaf = try Identity("/CN=wrong passphrase")
        let data = try Self.bundle(leaf).export(passphrase: "right")
        let wrong = expectKeyAreaError({ _ = try Crypto.loadPKCS12(data, passphrase: "wrong") }, KeyErrorKind.openSSL)
        #expect(wrong?.entries.contains { $0.reason == "mac verify failure" } == true)
        expectKeyAreaError({ _ = try Crypto.loadPKCS12(data, passphrase: [0x61, 0x00, 0x62]) }, KeyErrorKind.invalidArgument)
    }

    @Test func settersReplace() throws {
        let client = try Identity("/CN=client")
        let server = try Identity("/CN=server")
        let root = try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM)
        let p12 = Self.bundle(client, ca: root)
        p12.setCertificate(server.cert)
        p12.setPrivateKey(server.key)
        #expect(p12.getCertificate() === server.cert)
        #expect(p12.getPrivateKey() === server.key)
        p12.setCACertificates([root])
        #expect(p12.getCACertificates()?.count == 1)
        #expect(p12.getCACertificates()?[0] === root)
        p12.setCACertificates([client.cert, root])
        #expect(p12.getCACertificates()?.map(ObjectIdentifier.init) == [ObjectIdentifier(client.cert), ObjectIdentifier(root)])
        let loaded = try Crypto.loadPKCS12(p12.export(passphrase: "x", iter: 2), passphrase: "x")
        #expect(try loaded.getCACertificates()?.map { try Crypto.dumpCertificate(.asn1, $0) }
            == [Self.der(client.cert)!, Self.der(root)!])
        #expect(try Self.der(loaded.getCertificate()) == Self.der(server.cert))
    }

    @Test func friendlyNameSurvivesExport() throws {
        let passphrase = #"Dogmeat[]{}!@#$%^&*()~`?/.,<>-_+=";:"#
        let server = try Identity("/CN=friendly")
        let root = try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM)
        let p12 = Self.bundle(server, ca: root)
        for name in ["Serverlicious", nil, "###"] as [String?] {
            p12.setFriendlyName(name)
            #expect(p12.getFriendlyName() == name.map { Array($0.utf8) })
            let data = try p12.export(passphrase: passphrase, iter: 2, macIter: 3)
            let loaded = try Crypto.loadPKCS12(data, passphrase: passphrase)
            #expect(loaded.getFriendlyName() == name.map { Array($0.utf8) })
            try Self.expectRecovery(data, passphrase: passphrase, key: server.key, cert: server.cert, ca: root)
        }
        p12.setFriendlyName(Array("a\0b".utf8))
        expectKeyAreaError({ _ = try p12.export(passphrase: "x") }, KeyErrorKind.invalidArgument)
    }

    @Test func exportUsesTripleDESAndTheGivenIterations() throws {
        let server = try Identity("/CN=3des")
        let data = try Self.bundle(server).export(passphrase: "pw", iter: 1234, macIter: 5)
        let info = try Self.cli(data, passphrase: "pw", ["-info", "-noout"])
        #expect(info.status == 0, "\(info.stderr)")
        #expect(info.stderr.contains("MAC: sha256, Iteration 5"))
        #expect(info.stderr.contains("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 1234"))
        #expect(info.stderr.contains("PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 1234"))
    }

    @Test func removingAndEmptyCACertificates() throws {
        let server = try Identity("/CN=ca list")
        let root = try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM)
        let p12 = Self.bundle(server, ca: root)
        p12.setCACertificates(nil)
        #expect(p12.getCACertificates() == nil)
        p12.setCACertificates([])
        #expect(p12.getCACertificates()?.isEmpty == true)
        let data = try p12.export(passphrase: "Hobie 18", iter: 3)
        try Self.expectRecovery(data, passphrase: "Hobie 18", key: server.key, cert: server.cert)
        #expect(try Crypto.loadPKCS12(data, passphrase: "Hobie 18").getCACertificates() == nil)
    }

    @Test func exportWithoutMAC() throws {
        let server = try Identity("/CN=no mac")
        let root = try Crypto.loadCertificate(.pem, KeyFixtures.rootCertPEM)
        let data = try Self.bundle(server, ca: root).export(passphrase: "Lake Michigan", iter: 2, macIter: -1)
        try Self.expectRecovery(data, passphrase: "Lake Michigan", key: server.key, cert: server.cert, extra: ["-nomacver"])
        let info = try Self.cli(data, passphrase: "Lake Michigan", ["-info", "-noout", "-nomacver"])
        #expect(!info.stderr.contains("MAC:"))
        // OpenSSL 3.0's PKCS12_parse insists on a MAC when given a password.
        let error = expectKeyAreaError({ _ = try Crypto.loadPKCS12(data, passphrase: "Lake Michigan") }, KeyErrorKind.openSSL)
        #expect(error?.entries.contains { $0.reason == "mac absent" } == true)
    }

    @Test func exportWithDefaults() throws {
        let server = try Identity("/CN=defaults")
        let data = try Self.bundle(server).export()
        try Self.expectRecovery(data, passphrase: "", key: server.key, cert: server.cert)
        let info = try Self.cli(data, passphrase: "", ["-info", "-noout"])
        #expect(info.stderr.contains("Iteration 2048"))
        #expect(info.stderr.contains("MAC: sha256, Iteration 1"))
    }

    @Test func keyCertificateMismatchFails() throws {
        let server = try Identity("/CN=server")
        let client = try Identity("/CN=client")
        let p12 = PKCS12()
        p12.setCertificate(server.cert)
        p12.setPrivateKey(client.key)
        let error = expectKeyAreaError({ _ = try p12.export() }, KeyErrorKind.openSSL)
        #expect(error?.entries.contains { $0.reason == "key values mismatch" } == true)
    }

    @Test func legacyRC2FileIsAClearUnsupportedError() throws {
        let leaf = try Identity("/CN=legacy")
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        try leaf.certPEM.write(to: dir, name: "cert.pem")
        try leaf.keyPEM.write(to: dir, name: "key.pem")
        // -legacy: RC2-40 for the certificates, as OpenSSL 1.x and many Windows exports did.
        let made = try KeysCLI.run(["pkcs12", "-export", "-legacy", "-in", "cert.pem", "-inkey", "key.pem",
                                    "-passout", "pass:old", "-out", "old.p12"], in: dir)
        #expect(made.status == 0, "\(made.stderr)")
        let error = expectKeyAreaError({
            _ = try Crypto.loadPKCS12(try [UInt8](contentsOf: dir, name: "old.p12"), passphrase: "old")
        }, KeyErrorKind.unsupported)
        #expect("\(error.map { "\($0)" } ?? "")".contains("RC2-40"))
    }
}
