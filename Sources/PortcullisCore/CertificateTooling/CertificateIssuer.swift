import OpenSSLCrypto
import OpenSSLRand

/// Makes the keys and certificates of `portcullis cert dev-ca`, `dev-server` and `dev-client` with
/// OpenSSLCrypto's X509 API: a development CA, server certificates for a list of names, and client
/// certificates with the clientAuth extended key usage (optionally SPIFFE-style URI names), which is all a
/// working mutual-TLS setup needs.
public enum CertificateIssuer {
    /// The key algorithm of a new key.
    public enum KeyKind: Equatable, Sendable, CustomStringConvertible {
        /// ECDSA on P-256: small, fast, supported by every TLS 1.2+ client.
        case ecdsaP256
        /// RSA with this many bits (2048 at least: OpenSSL 3.0's default security level refuses less).
        case rsa(bits: Int)

        public var description: String {
            switch self {
            case .ecdsaP256: return "ECDSA P-256"
            case .rsa(let bits): return "RSA \(bits)"
            }
        }
    }

    /// What a certificate is for.
    public enum Profile: Sendable {
        /// A CA that signs leaf certificates only (pathlen 0).
        case certificateAuthority
        /// A TLS server: serverAuth, with the names as subjectAltName entries.
        case server([SubjectAltName])
        /// A TLS client: clientAuth, with optional subjectAltName entries (URIs such as SPIFFE IDs, DNS names).
        case client([SubjectAltName])
    }

    /// Validity defaults, in days: long for the CA, within the 398 days browsers accept for leaves.
    public static let defaultCADays = 3650
    public static let defaultLeafDays = 397

    /// A new private key.
    public static func generateKey(_ kind: KeyKind) throws -> PKey {
        let key = PKey()
        switch kind {
        case .ecdsaP256:
            try key.generateKey(curve: Crypto.ellipticCurve(named: "prime256v1"))
        case .rsa(let bits):
            guard bits >= 2048, bits <= 16384 else {
                throw CertificateToolError("RSA keys must have 2048 to 16384 bits, got \(bits)")
            }
            try key.generateKey(type: Crypto.TYPE_RSA, bits: bits)
        }
        return key
    }

    /// Issues a certificate for `publicKey` with `subject` and `profile`, signed by `issuer` (certificate and
    /// key), or self-signed with `publicKey`'s own private half when `issuer` is nil. Valid from five minutes
    /// ago (clock skew) for `days` days, with a random 127-bit serial and SHA-256.
    public static func issue(
        subject: DistinguishedName, publicKey: PKey, profile: Profile, days: Int,
        issuer: (certificate: X509, key: PKey)?
    ) throws -> X509 {
        guard days >= 1, days <= 36500 else { throw CertificateToolError("--days must be 1 to 36500, got \(days)") }
        if issuer == nil && publicKey.isPublicOnly {
            throw CertificateToolError("a self-signed certificate needs the private key")
        }
        if let issuer {
            guard issuer.certificate.isCertificateAuthority else {
                throw CertificateToolError("the issuing certificate \(issuer.certificate.getSubject().oneline) is not a CA (basicConstraints CA:TRUE)")
            }
            guard try Crypto.dumpPublicKey(.asn1, issuer.key) == Crypto.dumpPublicKey(.asn1, issuer.certificate.getPubkey()) else {
                throw CertificateToolError("the CA key does not belong to the CA certificate")
            }
        }
        let certificate = try X509()
        try certificate.setVersion(2)
        var serial = try Rand.bytes(16)
        serial[0] &= 0x7F
        if serial[0] == 0 { serial[0] = 0x01 }
        try certificate.setSerialNumber(X509SerialNumber(bigEndianMagnitude: serial))
        let subjectName = try subject.x509Name()
        try certificate.setSubject(subjectName)
        try certificate.setIssuer(issuer?.certificate.getSubject() ?? subjectName)
        try certificate.setPubkey(publicKey)
        try certificate.gmtimeAdjNotBefore(-300)
        try certificate.gmtimeAdjNotAfter(days * 86_400)

        let isRSA = publicKey.type() == Crypto.TYPE_RSA
        var extensions: [X509Extension] = []
        switch profile {
        case .certificateAuthority:
            extensions.append(try X509Extension(typeName: "basicConstraints", critical: true, value: "CA:TRUE,pathlen:0"))
            extensions.append(try X509Extension(typeName: "keyUsage", critical: true, value: "keyCertSign,cRLSign,digitalSignature"))
        case .server(let names):
            guard !names.isEmpty else { throw CertificateToolError("a server certificate needs at least one name") }
            extensions.append(try X509Extension(typeName: "basicConstraints", critical: true, value: "CA:FALSE"))
            extensions.append(try X509Extension(typeName: "keyUsage", critical: true,
                                                value: isRSA ? "digitalSignature,keyEncipherment" : "digitalSignature"))
            extensions.append(try X509Extension(typeName: "extendedKeyUsage", critical: false, value: "serverAuth"))
            extensions.append(try X509Extension(typeName: "subjectAltName", critical: false, value: SubjectAltName.configValue(names)))
        case .client(let names):
            extensions.append(try X509Extension(typeName: "basicConstraints", critical: true, value: "CA:FALSE"))
            extensions.append(try X509Extension(typeName: "keyUsage", critical: true, value: "digitalSignature"))
            extensions.append(try X509Extension(typeName: "extendedKeyUsage", critical: false, value: "clientAuth"))
            if !names.isEmpty {
                extensions.append(try X509Extension(typeName: "subjectAltName", critical: false, value: SubjectAltName.configValue(names)))
            }
        }
        extensions.append(try X509Extension(typeName: "subjectKeyIdentifier", critical: false, value: "hash", subject: certificate))
        try certificate.addExtensions(extensions)
        // The authority key identifier copies the issuer's subject key identifier (for a self-signed CA, the
        // one just added), so chains build unambiguously when a CA is renewed with the same name.
        let aki = try X509Extension(typeName: "authorityKeyIdentifier", critical: false, value: "keyid:always",
                                    issuer: issuer?.certificate ?? certificate)
        try certificate.addExtensions([aki])
        let signingKey = issuer?.key ?? publicKey
        try certificate.sign(key: signingKey, digest: "sha256")
        return certificate
    }
}

extension X509 {
    /// True when basicConstraints says CA:TRUE.
    var isCertificateAuthority: Bool {
        for index in 0..<getExtensionCount() {
            guard let ext = try? getExtension(at: index),
                  String(decoding: ext.getShortName(), as: UTF8.self) == "basicConstraints" else { continue }
            return ext.description.contains("CA:TRUE")
        }
        return false
    }
}
