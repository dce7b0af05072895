import OpenSSLCrypto

/// Reads the allow-list names (subject CN, OU and emailAddress; subjectAltName DNS, URI, rfc822Name and
/// iPAddress; optionally the public-key pin) of a certificate.
///
/// Through OpenSSL's structured accessors (`X509Name.entries(_:)`, `X509.subjectAltNames()`), never a text
/// form: one-line and RFC 2253 text do not keep separators apart from values, so a CN written as
/// `x, OU=admins` would read as an OU there. Here it stays one CN.
enum CertificateNames {
    /// The certificate's names, plus its SubjectPublicKeyInfo SHA-256 when `publicKeyPin` is true. Throws when
    /// a subject value cannot be decoded, the subjectAltName extension is malformed (or repeated), or the
    /// public key cannot be encoded: the allow-list then refuses rather than matching on part of it.
    static func identity(of certificate: X509, publicKeyPin: Bool = false) throws -> ClientIdentity {
        let subject = certificate.getSubject()
        var identity = ClientIdentity(
            commonNames: try subject.entries(.commonName), organizationalUnits: try subject.entries(.organizationalUnitName),
            subjectEmails: try subject.entries(.emailAddress))
        for name in try certificate.subjectAltNames() {
            switch name {
            case .dns(let dns): identity.dnsNames.append(dns)
            case .uri(let uri): identity.uris.append(uri)
            case .email(let email): identity.emails.append(email)
            case .ip(let bytes): identity.ipAddresses.append(bytes)
            case .other: break
            }
        }
        if publicKeyPin { identity.publicKeySHA256 = try PublicKeyPin.sha256(of: certificate) }
        return identity
    }
}
