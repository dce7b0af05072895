import Foundation
import Logging
import OpenSSLCrypto
import OpenSSLRand

/// The self-signed certificate the sample configuration uses on first run, so that a fresh clone serves
/// TLS at once: ECDSA P-256, SAN `localhost` and `127.0.0.1`, valid for 90 days, marked as not a CA.
///
/// The key comes from OpenSSLCrypto's key generation and the signature from its `sign`; the certificate
/// body is DER built here (the DER writer is a few lines; OpenSSLCrypto parses the result back, so a
/// malformed encoding would fail loudly).
public enum DevelopmentCertificate {
    /// Writes `certificateFile` (PEM) and `keyFile` (PEM, mode 0600) unless both already exist. Returns true
    /// when it created them. Refuses to replace one of the pair when only the other exists.
    @discardableResult
    public static func createIfMissing(certificateFile: String, keyFile: String, logger: Logger) throws -> Bool {
        let manager = FileManager.default
        let haveCertificate = manager.fileExists(atPath: certificateFile)
        let haveKey = manager.fileExists(atPath: keyFile)
        if haveCertificate && haveKey { return false }
        if haveCertificate != haveKey {
            throw CredentialLoader.Failure(description:
                "only one of \(certificateFile) and \(keyFile) exists; remove it to let a development certificate be generated")
        }
        let (certificatePEM, keyPEM) = try generate(commonName: "localhost", dnsNames: ["localhost"], ipAddresses: [[127, 0, 0, 1]])
        let directory = URL(fileURLWithPath: certificateFile).deletingLastPathComponent().path
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard manager.createFile(atPath: keyFile, contents: Data(keyPEM), attributes: [.posixPermissions: 0o600]) else {
            throw CredentialLoader.Failure(description: "cannot write \(keyFile)")
        }
        guard manager.createFile(atPath: certificateFile, contents: Data(certificatePEM), attributes: [.posixPermissions: 0o644]) else {
            throw CredentialLoader.Failure(description: "cannot write \(certificateFile)")
        }
        logger.notice("created a self-signed development certificate (ECDSA P-256, localhost and 127.0.0.1, 90 days); do not use it in production", metadata: [
            "certificate": "\(certificateFile)", "key": "\(keyFile)",
        ])
        return true
    }

    /// A fresh key and a self-signed certificate for it, both PEM.
    public static func generate(
        commonName: String, dnsNames: [String], ipAddresses: [[UInt8]], days: Int = 90
    ) throws -> (certificate: [UInt8], key: [UInt8]) {
        let key = PKey()
        try key.generateKey(curve: Crypto.ellipticCurve(named: "prime256v1"))
        let publicKeyInfo = try Crypto.dumpPublicKey(.asn1, key)
        let now = Int(Date().timeIntervalSince1970)
        var serial = try Rand.bytes(16)
        serial[0] &= 0x7F
        let ecdsaWithSHA256 = DER.sequence([DER.oid([1, 2, 840, 10045, 4, 3, 2])])
        let name = DER.sequence([DER.set([DER.sequence([DER.oid([2, 5, 4, 3]), DER.utf8String(commonName)])])])
        let subjectAltNames = DER.sequence(
            dnsNames.map { DER.element(0x82, Array($0.utf8)) } + ipAddresses.map { DER.element(0x87, $0) })
        let extensions = DER.element(0xA3, DER.sequence([
            DER.sequence([DER.oid([2, 5, 29, 19]), DER.boolean(true), DER.octetString(DER.sequence([]))]),  // CA:FALSE
            DER.sequence([DER.oid([2, 5, 29, 15]), DER.boolean(true), DER.octetString(DER.element(0x03, [0x07, 0x80]))]),  // digitalSignature
            DER.sequence([DER.oid([2, 5, 29, 37]), DER.octetString(DER.sequence([DER.oid([1, 3, 6, 1, 5, 5, 7, 3, 1])]))]),  // serverAuth
            DER.sequence([DER.oid([2, 5, 29, 17]), DER.octetString(subjectAltNames)]),
        ]))
        let tbs = DER.sequence([
            DER.element(0xA0, DER.integer([2])),  // v3
            DER.integer(serial),
            ecdsaWithSHA256,
            name,
            DER.sequence([DER.time(unixSeconds: now - 3600), DER.time(unixSeconds: now + days * 86_400)]),
            name,
            publicKeyInfo,
            extensions,
        ])
        let signature = try Crypto.sign(key: key, data: tbs, digest: "sha256")
        let der = DER.sequence([tbs, ecdsaWithSHA256, DER.bitString(signature)])
        let certificate = try Crypto.loadCertificate(.asn1, der)
        return (try Crypto.dumpCertificate(.pem, certificate), try Crypto.dumpPrivateKey(.pem, key))
    }
}
