internal import Glibc
import OpenSSLCrypto

/// The files behind `portcullis cert dev-ca`, `dev-server` and `dev-client`: a directory holding `ca.pem` and
/// `ca.key`, and `NAME.pem` + `NAME.key` per issued certificate (keys mode 0600, PKCS#8 PEM, unencrypted so
/// the proxy can load them without a passphrase).
public enum DevelopmentPKI {
    /// The paths written.
    public struct Written: Sendable {
        public var certificate: String
        public var key: String
    }

    /// `DIR/ca.pem` and `DIR/ca.key`.
    public static func caPaths(in directory: String) -> (certificate: String, key: String) {
        (join(directory, "ca.pem"), join(directory, "ca.key"))
    }

    /// A new development CA in `directory` (created if missing).
    public static func createCA(
        directory: String, subject: DistinguishedName, keyKind: CertificateIssuer.KeyKind, days: Int, force: Bool
    ) throws -> Written {
        let paths = caPaths(in: directory)
        try prepare(directory: directory, paths: [paths.certificate, paths.key], force: force)
        let key = try CertificateIssuer.generateKey(keyKind)
        let certificate = try CertificateIssuer.issue(
            subject: subject, publicKey: key, profile: .certificateAuthority, days: days, issuer: nil)
        return try write(certificate: certificate, key: key, paths: paths, force: force)
    }

    /// A new leaf certificate (`profile` `.server` or `.client`) signed by the CA, written as `baseName.pem`
    /// and `baseName.key` in `directory`.
    public static func createLeaf(
        subject: DistinguishedName, profile: CertificateIssuer.Profile, baseName: String, directory: String,
        caCertificate: String, caKey: String, keyKind: CertificateIssuer.KeyKind, days: Int, force: Bool
    ) throws -> Written {
        let paths = (certificate: join(directory, baseName + ".pem"), key: join(directory, baseName + ".key"))
        let issuer = try loadCA(certificate: caCertificate, key: caKey)
        try prepare(directory: directory, paths: [paths.certificate, paths.key], force: force)
        let key = try CertificateIssuer.generateKey(keyKind)
        let certificate = try CertificateIssuer.issue(
            subject: subject, publicKey: key, profile: profile, days: days, issuer: issuer)
        return try write(certificate: certificate, key: key, paths: paths, force: force)
    }

    /// Reads a CA certificate and its key (unencrypted PEM, as `dev-ca` writes them).
    public static func loadCA(certificate: String, key: String) throws -> (certificate: X509, key: PKey) {
        let certificateBytes = try OutputFile.read(certificate, what: "CA certificate")
        let keyBytes = try OutputFile.read(key, what: "CA key")
        let x509: X509
        do {
            x509 = try Crypto.loadCertificate(.pem, certificateBytes)
        } catch {
            throw CertificateToolError("\(certificate) is not a PEM certificate: \(error)")
        }
        let pkey: PKey
        do {
            pkey = try Crypto.loadPrivateKey(.pem, keyBytes)
        } catch {
            throw CertificateToolError("\(key) is not an unencrypted PEM private key: \(error)")
        }
        return (x509, pkey)
    }

    /// A file name for a certificate named `name`: `*.example.com` -> `wildcard.example.com`, anything but
    /// letters, digits, `.`, `-` and `_` -> `_`.
    public static func fileBaseName(for name: String) -> String {
        var text = name
        if text.hasPrefix("*.") { text = "wildcard" + text.dropFirst() }
        let mapped = text.unicodeScalars.map { scalar -> Character in
            let allowed = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z")
                || (scalar >= "0" && scalar <= "9") || scalar == "." || scalar == "-" || scalar == "_"
            return allowed ? Character(scalar) : "_"
        }
        let result = String(mapped)
        return result.isEmpty || result.allSatisfy({ $0 == "." }) ? "certificate" : result
    }

    private static func join(_ directory: String, _ file: String) -> String {
        directory.hasSuffix("/") ? directory + file : directory + "/" + file
    }

    /// Creates `directory` (0755) if needed and refuses, before anything is generated, when an output exists.
    private static func prepare(directory: String, paths: [String], force: Bool) throws {
        if mkdir(directory, 0o755) != 0, errno != EEXIST {
            throw CertificateToolError("cannot create directory \(directory): \(String(cString: strerror(errno)))")
        }
        guard !force else { return }
        for path in paths where access(path, F_OK) == 0 {
            throw CertificateToolError("\(path) already exists; remove it or pass --force to replace it")
        }
    }

    private static func write(
        certificate: X509, key: PKey, paths: (certificate: String, key: String), force: Bool
    ) throws -> Written {
        try OutputFile.write(Crypto.dumpPrivateKey(.pem, key), to: paths.key, mode: OutputFile.privateMode, overwrite: force)
        try OutputFile.write(Crypto.dumpCertificate(.pem, certificate), to: paths.certificate, mode: OutputFile.publicMode,
                             overwrite: force)
        return Written(certificate: paths.certificate, key: paths.key)
    }
}
