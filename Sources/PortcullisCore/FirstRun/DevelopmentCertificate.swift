import FoundationEssentials
import Logging
import OpenSSLCrypto
import OpenSSLRand

/// The self-signed certificate the sample configuration uses on first run, so that a fresh clone serves
/// TLS at once: ECDSA P-256, SAN `localhost` and `127.0.0.1`, valid for 90 days, marked as not a CA.
///
/// Built entirely with OpenSSLCrypto (`PKey.generateKey(curve:)`, `X509`, `X509Extension`, `X509.sign`), so
/// OpenSSL does every encoding.
public enum DevelopmentCertificate {
    /// Writes `certificateFile` (PEM) and `keyFile` (PEM, mode 0600) unless both already exist. Returns true
    /// when it created them. Refuses to replace one of the pair when only the other exists.
    @discardableResult
    public static func createIfMissing(certificateFile: String, keyFile: String, logger: Logger) throws -> Bool {
        let haveCertificate = LocalFile.exists(certificateFile)
        let haveKey = LocalFile.exists(keyFile)
        if haveCertificate && haveKey { return false }
        if haveCertificate != haveKey {
            throw CredentialLoader.Failure(description:
                "only one of \(certificateFile) and \(keyFile) exists; remove it to let a development certificate be generated")
        }
        let (certificatePEM, keyPEM) = try generate(commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        for file in [certificateFile, keyFile] {
            guard let slash = file.lastIndex(of: "/"), slash != file.startIndex else { continue }
            let directory = String(file[..<slash])
            do { try LocalFile.makeDirectories(directory) } catch {
                throw CredentialLoader.Failure(description: "cannot create directory \(directory) for the development certificate: \(error)")
            }
        }
        try writeNewFile(keyFile, keyPEM, mode: 0o600)
        try writeNewFile(certificateFile, certificatePEM, mode: 0o644)
        logger.notice("created a self-signed development certificate (ECDSA P-256, localhost and 127.0.0.1, 90 days); do not use it in production", metadata: [
            "certificate": "\(certificateFile)", "key": "\(keyFile)",
        ])
        return true
    }

    /// A fresh ECDSA P-256 key and a self-signed v3 certificate for it (SHA-256), both PEM.
    ///
    /// The certificate has a random 127-bit serial, is valid from an hour ago (clock skew) for `days`, and
    /// carries `subjectAltName` (the DNS names, then the IP addresses), `basicConstraints` CA:FALSE and
    /// `keyUsage` digitalSignature (both critical), `extendedKeyUsage` serverAuth and a
    /// `subjectKeyIdentifier`.
    ///
    /// - Parameters:
    ///   - dnsNames: host names for the SAN; no commas (OpenSSL's extension syntax separates on them).
    ///   - ipAddresses: IPv4 or IPv6 addresses in text form (`127.0.0.1`, `::1`).
    public static func generate(
        commonName: String, dnsNames: [String], ipAddresses: [String], days: Int = 90
    ) throws -> (certificate: [UInt8], key: [UInt8]) {
        for entry in dnsNames + ipAddresses where entry.isEmpty || entry.contains(",") {
            throw CredentialLoader.Failure(description: "invalid subjectAltName entry for a development certificate: \"\(entry)\"")
        }
        let key = PKey()
        try key.generateKey(curve: Crypto.ellipticCurve(named: "prime256v1"))
        let certificate = try X509()
        try certificate.setVersion(2)
        var serial = try Rand.bytes(16)
        serial[0] &= 0x7F  // positive, and at most 127 bits as RFC 5280 allows
        try certificate.setSerialNumber(X509SerialNumber(bigEndianMagnitude: serial))
        let name = try X509Name()
        try name.set(.commonName, commonName)
        try certificate.setSubject(name)
        try certificate.setIssuer(name)
        try certificate.gmtimeAdjNotBefore(-3600)
        try certificate.gmtimeAdjNotAfter(days * 86_400)
        try certificate.setPubkey(key)
        let subjectAltName = (dnsNames.map { "DNS:\($0)" } + ipAddresses.map { "IP:\($0)" }).joined(separator: ",")
        var extensions = [
            try X509Extension(typeName: "basicConstraints", critical: true, value: "CA:FALSE"),
            try X509Extension(typeName: "keyUsage", critical: true, value: "digitalSignature"),
            try X509Extension(typeName: "extendedKeyUsage", critical: false, value: "serverAuth"),
            try X509Extension(typeName: "subjectKeyIdentifier", critical: false, value: "hash", subject: certificate),
        ]
        if !subjectAltName.isEmpty {
            extensions.append(try X509Extension(typeName: "subjectAltName", critical: false, value: subjectAltName))
        }
        try certificate.addExtensions(extensions)
        try certificate.sign(key: key, digest: "sha256")
        return (try Crypto.dumpCertificate(.pem, certificate), try Crypto.dumpPrivateKey(.pem, key))
    }

    /// Creates `path` with `mode` from the start (`O_CREAT | O_EXCL`: a key is never a moment readable by
    /// others under a loose umask, and never written through a symlink or over an existing file).
    private static func writeNewFile(_ path: String, _ bytes: [UInt8], mode: UInt32) throws {
        do {
            try LocalFile.createNew(path, bytes: bytes, mode: mode)
        } catch {
            throw CredentialLoader.Failure(description: "cannot create \(path): \(error)")
        }
    }
}
