import OpenSSLCrypto

/// `portcullis cert csr`: a PKCS#10 certificate signing request for an existing key, to send to a real CA.
public enum CertificateRequestBuilder {
    /// A CSR for `key` with `subject` and, when `names` is not empty, a subjectAltName extension request,
    /// signed with SHA-256. PEM.
    public static func make(key: PKey, subject: DistinguishedName, names: [SubjectAltName]) throws -> [UInt8] {
        guard !key.isPublicOnly else { throw CertificateToolError("a CSR is signed with the private key; got a public key") }
        let request = try X509Req()
        try request.setVersion(0)
        // Validates the attributes (known fields, each once) before writing them into the request's name.
        _ = try subject.x509Name()
        let requestSubject = request.getSubject()
        for (field, value) in subject.attributes {
            try requestSubject.set(X509Name.Field(field), utf8: Array(value.utf8))
        }
        try request.setPubkey(key)
        if !names.isEmpty {
            try request.addExtensions([
                X509Extension(typeName: "subjectAltName", critical: false, value: SubjectAltName.configValue(names)),
            ])
        }
        try request.sign(key: key, digest: "sha256")
        return try Crypto.dumpCertificateRequest(.pem, request)
    }
}
