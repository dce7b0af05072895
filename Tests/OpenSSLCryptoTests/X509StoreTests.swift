import Foundation
import Testing
@testable import OpenSSLCrypto

/// Ports of pyOpenSSL's `TestX509Store`, `TestCRL` (store CRL checking) and `TestX509StoreContext`.
@Suite struct X509StoreTests {
    func store(_ certs: X509...) throws -> X509Store {
        let store = try X509Store()
        for cert in certs { try store.addCert(cert) }
        return store
    }

    /// Runs `body`, expecting a verification failure, and returns it.
    func verificationError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> X509StoreContextError? {
        let error = expectThrowsCleanly(sourceLocation: sourceLocation, body)
        guard let failure = error as? X509StoreContextError else {
            Issue.record("expected X509StoreContextError, got \(String(describing: error))", sourceLocation: sourceLocation)
            return nil
        }
        return failure
    }

    // MARK: X509Store

    @Test func addCertAcceptsDuplicates() throws {
        let issued = try issue(commonName: "dup", isCA: true)
        let store = try X509Store()
        try store.addCert(issued.cert)
        try store.addCert(issued.cert)
        try X509StoreContext(store: store, certificate: issued.cert).verifyCertificate()
    }

    @Test func loadLocationsNeedsAFileOrDirectory() throws {
        let store = try X509Store()
        #expect(isInvalidArgument(expectThrowsCleanly { try store.loadLocations(caFile: nil, caPath: nil) }))
    }

    @Test func loadLocationsFailsOnNonPEMFile() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("garbage.pem", Array("This is not a certificate".utf8))
        let store = try X509Store()
        #expect(isOpenSSLError(expectThrowsCleanly { try store.loadLocations(caFile: file) }))
        #expect(isOpenSSLError(expectThrowsCleanly { try store.loadLocations(caFile: dir.path("missing.pem")) }))
    }

    @Test func flagsHavePyOpenSSLRawValues() {
        let expected: [(X509StoreFlags, UInt)] = [
            (.CRL_CHECK, 0x4), (.CRL_CHECK_ALL, 0x8), (.IGNORE_CRITICAL, 0x10), (.X509_STRICT, 0x20),
            (.ALLOW_PROXY_CERTS, 0x40), (.POLICY_CHECK, 0x80), (.EXPLICIT_POLICY, 0x100), (.INHIBIT_MAP, 0x400),
            (.NOTIFY_POLICY, 0x800), (.CHECK_SS_SIGNATURE, 0x4000), (.PARTIAL_CHAIN, 0x80000),
        ]
        for (flag, raw) in expected { #expect(flag.rawValue == raw) }
        #expect(X509StoreFlags([.CRL_CHECK, .CRL_CHECK_ALL]).rawValue == 0xC)
    }

    @Test func verificationCodesHaveOpenSSLValuesAndText() {
        #expect(X509VerificationCode.OK.rawValue == 0)
        #expect(X509VerificationCode.ERR_CERT_HAS_EXPIRED.rawValue == 10)
        #expect(X509VerificationCode.ERR_DEPTH_ZERO_SELF_SIGNED_CERT.rawValue == 18)
        #expect(X509VerificationCode.ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY.rawValue == 20)
        #expect(X509VerificationCode.ERR_HOSTNAME_MISMATCH.rawValue == 62)
        #expect(X509VerificationCode.ERR_CERT_HAS_EXPIRED.message == "certificate has expired")
        #expect(X509VerificationCode.OK.message == "ok")
    }

    // MARK: CRLs (generated with `openssl ca`)

    /// A CRL in DER issued by `ca`, revoking `revoked`.
    func makeCRL(issuer ca: Issued, revoking revoked: [Issued]) throws -> [UInt8] {
        let dir = try TemporaryDirectory()
        try dir.write("ca.pem", ca.pem)
        try dir.write("ca.key", ca.keyPEM)
        try dir.write("ca.cnf", Array("""
            [ca]
            default_ca = d
            [d]
            database = index.txt
            crlnumber = crlnumber
            default_md = sha256
            default_crl_days = 30

            """.utf8))
        try dir.write("index.txt", [UInt8]())
        try dir.write("crlnumber", Array("01\n".utf8))
        let common = ["-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem"]
        for (index, cert) in revoked.enumerated() {
            try dir.write("revoked\(index).pem", cert.pem)
            try openssl(["ca"] + common + ["-revoke", "revoked\(index).pem"], in: dir)
        }
        try openssl(["ca"] + common + ["-gencrl", "-out", "crl.pem"], in: dir)
        return try openssl(["crl", "-in", "crl.pem", "-outform", "DER"], in: dir).stdout
    }

    @Test func revokedCertificateFailsWithCRLCheck() throws {
        let root = try issue(commonName: "crl root", isCA: true, serial: 1)
        let leaf = try issue(commonName: "revoked leaf", issuer: root, serial: 77)
        let store = try store(root.cert)
        try store.addCRL(der: makeCRL(issuer: root, revoking: [leaf]))
        // CRLs are ignored until a CRL flag is set.
        try X509StoreContext(store: store, certificate: leaf.cert).verifyCertificate()
        try store.setFlags(.CRL_CHECK)
        let failure = verificationError { try X509StoreContext(store: store, certificate: leaf.cert).verifyCertificate() }
        #expect(failure?.message == "certificate revoked")
        #expect(failure?.verificationCode == .ERR_CERT_REVOKED)
        #expect(failure?.depth == 0)
        #expect(failure?.certificate?.getSubject().commonName == "revoked leaf")
    }

    @Test func crlBuiltWithTheWrapperRevokesThroughTheStore() throws {
        let root = try issue(commonName: "wrapper crl root", isCA: true, serial: 1)
        let leaf = try issue(commonName: "wrapper revoked leaf", issuer: root, serial: 0x4D2)
        let revoked = try Revoked()
        try revoked.setSerial(hex: "04D2")
        try revoked.setRevDate("20240101000000Z")
        try revoked.setReason("keyCompromise")
        let crl = try CRL()
        try crl.addRevoked(revoked)
        let pem = try crl.export(cert: root.cert, key: root.key, type: .pem, days: 1, digest: "sha256")
        let store = try store(root.cert)
        try store.addCRL(try Crypto.loadCRL(.pem, pem))
        try store.setFlags(.CRL_CHECK)
        let failure = verificationError { try X509StoreContext(store: store, certificate: leaf.cert).verifyCertificate() }
        #expect(failure?.verificationCode == .ERR_CERT_REVOKED)
        #expect(failure?.certificate?.getSubject().commonName == "wrapper revoked leaf")
    }

    @Test func missingCRLFailsWithCRLCheckAll() throws {
        let chain = try Chain()
        let store = try store(chain.root.cert, chain.intermediate.cert)
        try store.addCRL(der: makeCRL(issuer: chain.root, revoking: []))
        try store.setFlags([.CRL_CHECK, .CRL_CHECK_ALL])
        let failure = verificationError {
            try X509StoreContext(store: store, certificate: chain.leaf.cert).verifyCertificate()
        }
        #expect(failure?.message == "unable to get certificate CRL")
        #expect(failure?.code == 3)
        #expect(failure?.certificate?.getSubject().commonName == "leaf.example")
    }

    @Test func garbageCRLIsAnOpenSSLError() throws {
        let store = try X509Store()
        #expect(isOpenSSLError(expectThrowsCleanly { try store.addCRL(der: [0x30, 0x01, 0x00]) }))
    }

    // MARK: X509StoreContext

    @Test func validChainVerifiesRepeatedly() throws {
        let chain = try Chain()
        let context = try X509StoreContext(store: store(chain.root.cert, chain.intermediate.cert),
                                           certificate: chain.leaf.cert)
        try context.verifyCertificate()
        try context.verifyCertificate()
    }

    @Test func untrustedIntermediatesComeFromTheChainArgument() throws {
        let chain = try Chain()
        let rootOnly = try store(chain.root.cert)
        try X509StoreContext(store: rootOnly, certificate: chain.leaf.cert, chain: [chain.intermediate.cert])
            .verifyCertificate()
        // Empty chain with the intermediate in the store.
        try X509StoreContext(store: store(chain.root.cert, chain.intermediate.cert), certificate: chain.leaf.cert,
                             chain: []).verifyCertificate()
        // Extra, irrelevant certificates in the chain do no harm.
        let stranger = try issue(commonName: "stranger", isCA: true)
        let context = try X509StoreContext(store: rootOnly, certificate: chain.leaf.cert,
                                           chain: [stranger.cert, chain.intermediate.cert, chain.root.cert])
        try context.verifyCertificate()
        try context.verifyCertificate()
    }

    @Test func untrustedChainDoesNotMakeAnAnchor() throws {
        let chain = try Chain()
        // Neither store trusts the root; the root passed as an untrusted chain element must not be used as one.
        for store in [try X509Store(), try store(chain.intermediate.cert)] {
            let failure = verificationError {
                try X509StoreContext(store: store, certificate: chain.leaf.cert,
                                     chain: [chain.intermediate.cert, chain.root.cert]).verifyCertificate()
            }
            #expect(failure != nil)
        }
        let failure = verificationError {
            try X509StoreContext(store: X509Store(), certificate: chain.leaf.cert,
                                 chain: [chain.intermediate.cert, chain.root.cert]).verifyCertificate()
        }
        #expect(failure?.verificationCode == .ERR_SELF_SIGNED_CERT_IN_CHAIN)
        #expect(failure?.depth == 2)
    }

    @Test func trustedSelfSignedVerifies() throws {
        let root = try issue(commonName: "self", isCA: true)
        try X509StoreContext(store: store(root.cert), certificate: root.cert).verifyCertificate()
    }

    @Test func untrustedSelfSignedFails() throws {
        let root = try issue(commonName: "self", isCA: true)
        let failure = verificationError { try X509StoreContext(store: X509Store(), certificate: root.cert).verifyCertificate() }
        #expect(failure?.message == "self-signed certificate")
        #expect(failure?.code == 18)
        #expect(failure?.depth == 0)
        #expect(failure?.certificate?.getSubject().commonName == "self")
        #expect(failure?.errors.code == 18)
    }

    @Test func missingRootFailsAtTheIntermediate() throws {
        let chain = try Chain()
        let failure = verificationError {
            try X509StoreContext(store: store(chain.intermediate.cert), certificate: chain.leaf.cert).verifyCertificate()
        }
        #expect(failure?.message == "unable to get issuer certificate")
        #expect(failure?.verificationCode == .ERR_UNABLE_TO_GET_ISSUER_CERT)
        #expect(failure?.depth == 1)
        #expect(failure?.certificate?.getSubject().commonName == "intermediate")
    }

    @Test func missingIntermediateFailsAtTheLeaf() throws {
        let chain = try Chain()
        let failure = verificationError {
            try X509StoreContext(store: store(chain.root.cert), certificate: chain.leaf.cert).verifyCertificate()
        }
        #expect(failure?.message == "unable to get local issuer certificate")
        #expect(failure?.verificationCode == .ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
        #expect(failure?.depth == 0)
        #expect(failure?.certificate?.getSubject().commonName == "leaf.example")
    }

    @Test func setStoreBeforeVerifying() throws {
        let chain = try Chain()
        let context = try X509StoreContext(store: store(chain.root.cert), certificate: chain.intermediate.cert)
        try context.verifyCertificate()
        context.setStore(try X509Store())
        #expect(verificationError { try context.verifyCertificate() } != nil)
        context.setStore(try store(chain.root.cert))
        try context.verifyCertificate()
    }

    @Test func verificationTimeIsConfigurable() throws {
        let chain = try Chain(leafNotAfter: 3600)
        let store = try store(chain.root.cert, chain.intermediate.cert)
        let context = try X509StoreContext(store: store, certificate: chain.leaf.cert)
        try context.verifyCertificate()
        let notAfterText = try #require(chain.leaf.cert.getNotAfter())
        let notAfter = try #require(epochSeconds(generalizedTime: notAfterText))
        try store.setTime(secondsSinceEpoch: notAfter + 1)
        let failure = verificationError { try context.verifyCertificate() }
        #expect(failure?.message == "certificate has expired")
        #expect(failure?.verificationCode == .ERR_CERT_HAS_EXPIRED)
        #expect(failure?.depth == 0)
        // And before notBefore.
        try store.setTime(secondsSinceEpoch: notAfter - 86_400 * 365)
        #expect(verificationError { try context.verifyCertificate() }?.verificationCode == .ERR_CERT_NOT_YET_VALID)
    }

    @Test func verifiedChainIsLeafToRoot() throws {
        let chain = try Chain()
        let context = try X509StoreContext(store: store(chain.root.cert), certificate: chain.leaf.cert,
                                           chain: [chain.intermediate.cert])
        for _ in 0..<2 {
            let verified = try context.getVerifiedChain()
            #expect(verified.map { $0.getSubject().commonName } == ["leaf.example", "intermediate", "Portcullis Test Root CA"])
            #expect(try verified.map { try $0.derBytes() } == [chain.leaf.cert, chain.intermediate.cert, chain.root.cert].map { try $0.derBytes() })
        }
    }

    @Test func verifiedChainOfInvalidChainThrows() throws {
        let chain = try Chain()
        let failure = verificationError {
            _ = try X509StoreContext(store: store(chain.intermediate.cert), certificate: chain.leaf.cert).getVerifiedChain()
        }
        #expect(failure?.verificationCode == .ERR_UNABLE_TO_GET_ISSUER_CERT)
    }

    @Test func caFileLocation() throws {
        let chain = try Chain()
        let dir = try TemporaryDirectory()
        let file = try dir.write("root.pem", chain.root.pem)
        let store = try X509Store()
        try store.loadLocations(caFile: file)
        try X509StoreContext(store: store, certificate: chain.intermediate.cert).verifyCertificate()
    }

    /// A c_rehash-style directory: `<subject hash as %08x>.0` per certificate.
    func hashedDirectory(_ certs: Issued...) throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory()
        for issued in certs {
            let hex = String(issued.cert.subjectNameHash(), radix: 16)
            try dir.write(String(repeating: "0", count: max(0, 8 - hex.count)) + hex + ".0", issued.pem)
        }
        return dir
    }

    @Test func caPathLocationUsesSubjectHashNames() throws {
        let chain = try Chain()
        let dir = try hashedDirectory(chain.root)
        let store = try X509Store()
        try store.loadLocations(caFile: nil, caPath: dir.url.path)
        try X509StoreContext(store: store, certificate: chain.intermediate.cert).verifyCertificate()

        // The same directory as `openssl rehash` would lay it out.
        let rehashed = try TemporaryDirectory()
        try rehashed.write("root.pem", chain.root.pem)
        try openssl(["rehash", rehashed.url.path])
        let names = try FileManager.default.contentsOfDirectory(atPath: rehashed.url.path).filter { $0 != "root.pem" }
        #expect(names == (try FileManager.default.contentsOfDirectory(atPath: dir.url.path)))
    }

    @Test func caFileAndCaPathTogether() throws {
        let chain = try Chain()
        let files = try TemporaryDirectory()
        let intermediateFile = try files.write("intermediate.pem", chain.intermediate.pem)
        let hashed = try hashedDirectory(chain.root)
        let store = try X509Store()
        try store.loadLocations(caFile: intermediateFile, caPath: hashed.url.path)
        try X509StoreContext(store: store, certificate: chain.leaf.cert).verifyCertificate()
    }

    @Test func multipleCAFiles() throws {
        let chain = try Chain()
        let dir = try TemporaryDirectory()
        let store = try X509Store()
        try store.loadLocations(caFile: dir.write("root.pem", chain.root.pem))
        try store.loadLocations(caFile: dir.write("intermediate.pem", chain.intermediate.pem))
        try X509StoreContext(store: store, certificate: chain.leaf.cert).verifyCertificate()
    }

    @Test func emptyCADirectoryFails() throws {
        let chain = try Chain()
        let dir = try TemporaryDirectory()
        let store = try X509Store()
        try store.loadLocations(caFile: nil, caPath: dir.url.path)
        let failure = verificationError {
            try X509StoreContext(store: store, certificate: chain.intermediate.cert).verifyCertificate()
        }
        #expect(failure?.verificationCode == .ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
    }

    @Test func partialChainTrustsAnIntermediate() throws {
        let chain = try Chain()
        let store = try store(chain.intermediate.cert)
        #expect(verificationError { try X509StoreContext(store: store, certificate: chain.leaf.cert).verifyCertificate() } != nil)
        try store.setFlags(.PARTIAL_CHAIN)
        try X509StoreContext(store: store, certificate: chain.leaf.cert).verifyCertificate()
        let verified = try X509StoreContext(store: store, certificate: chain.leaf.cert).getVerifiedChain()
        #expect(verified.map { $0.getSubject().commonName } == ["leaf.example", "intermediate"])
    }

    @Test func tamperedSignatureFails() throws {
        let chain = try Chain()
        // Re-sign the leaf with a key that is not the intermediate's.
        let (_, stranger) = try generateKey()
        try chain.leaf.cert.sign(key: stranger, digest: "sha256")
        let failure = verificationError {
            try X509StoreContext(store: store(chain.root.cert, chain.intermediate.cert), certificate: chain.leaf.cert)
                .verifyCertificate()
        }
        #expect(failure?.verificationCode == .ERR_CERT_SIGNATURE_FAILURE)
        #expect(failure?.depth == 0)
    }
}
