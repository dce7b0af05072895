import OpenSSLCrypto

/// Reads the allow-list names (subject CN and OU, subjectAltName DNS and URI) of a certificate.
///
/// Through OpenSSL's structured accessors (`X509Name.entries(_:)`, `X509.subjectAltNames()`), never a text
/// form: one-line and RFC 2253 text do not keep separators apart from values, so a CN written as
/// `x, OU=admins` would read as an OU there. Here it stays one CN.
enum CertificateNames {
    /// The certificate's names. Throws when a subject value cannot be decoded or the subjectAltName
    /// extension is malformed (or repeated): the allow-list then refuses rather than matching on part of it.
    static func identity(of certificate: X509) throws -> ClientIdentity {
        let subject = certificate.getSubject()
        var identity = ClientIdentity(
            commonNames: try subject.entries(.commonName), organizationalUnits: try subject.entries(.organizationalUnitName))
        for name in try certificate.subjectAltNames() {
            switch name {
            case .dns(let dns): identity.dnsNames.append(dns)
            case .uri(let uri): identity.uris.append(uri)
            case .email, .ip, .other: break
            }
        }
        return identity
    }
}
