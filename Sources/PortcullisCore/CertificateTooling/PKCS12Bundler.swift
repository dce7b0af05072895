import FoundationEssentials
import OpenSSLCrypto

/// `portcullis cert pkcs12`: a certificate, its key and optionally CA certificates in one password-protected
/// PKCS#12 file (for browsers, Java key stores, Windows).
public enum PKCS12Bundler {
    /// The DER bundle. Refuses a key that does not belong to the certificate and an empty password (many
    /// tools then store the key effectively unprotected).
    public static func make(certificate: X509, key: PKey, caCertificates: [X509], password: [UInt8], friendlyName: String?) throws -> [UInt8] {
        guard !password.isEmpty else { throw CertificateToolError("the PKCS#12 password must not be empty") }
        guard CertificateInspector.keyMatches(key, certificate) == true else {
            throw CertificateToolError("the key does not belong to the certificate \(certificate.getSubject().oneline)")
        }
        let bundle = PKCS12()
        bundle.setCertificate(certificate)
        bundle.setPrivateKey(key)
        if !caCertificates.isEmpty { bundle.setCACertificates(caCertificates) }
        if let friendlyName { bundle.setFriendlyName(friendlyName) }
        return try bundle.export(passphrase: password, iter: 10_000, macIter: 10_000)
    }

    /// Every certificate in a PEM file, in order.
    public static func loadCertificates(_ bytes: [UInt8], name: String) throws -> [X509] {
        let text = String(decoding: bytes, as: UTF8.self)
        var certificates: [X509] = []
        var remainder = Substring(text)
        while let begin = remainder.range(of: "-----BEGIN CERTIFICATE-----") {
            guard let end = remainder.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<remainder.endIndex) else { break }
            let block = String(remainder[begin.lowerBound..<end.upperBound]) + "\n"
            do {
                certificates.append(try Crypto.loadCertificate(.pem, block))
            } catch {
                throw CertificateToolError("\(name): certificate \(certificates.count + 1) does not parse: \(error)")
            }
            remainder = remainder[end.upperBound...]
        }
        guard !certificates.isEmpty else { throw CertificateToolError("\(name) holds no PEM certificate") }
        return certificates
    }
}
