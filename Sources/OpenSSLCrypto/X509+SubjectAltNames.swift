internal import COpenSSL
internal import COpenSSLShim

extension X509 {
    /// The entries of the certificate's subjectAltName extension, in order; `[]` when it has none.
    ///
    /// Structured access (`X509_get_ext_d2i(NID_subject_alt_name)` and `GENERAL_NAME_get0_value`) for code
    /// that matches names, where the printed text of `X509Extension.description` is ambiguous. Not in
    /// pyOpenSSL, whose callers parse `str(extension)`.
    ///
    /// - Throws: `.openSSL` when the extension's value does not decode as `GeneralNames`;
    ///   `.invalidArgument` when the certificate carries more than one subjectAltName extension (RFC 5280
    ///   forbids it, and picking one would let the other go unchecked).
    public func subjectAltNames() throws -> [GeneralName] {
        OpenSSLErrorQueue.clear()
        var critical: Int32 = 0
        let decoded = X509_get_ext_d2i(pointer, NID_subject_alt_name, &critical, nil)
        guard let decoded else {
            switch critical {
            case -1:
                OpenSSLErrorQueue.clear()
                return []
            case -2:
                OpenSSLErrorQueue.clear()
                throw CryptoError.invalidArgument("the certificate has more than one subjectAltName extension")
            default:
                throw CryptoError.fromQueue()
            }
        }
        let names = OpaquePointer(decoded)
        defer { GENERAL_NAMES_free(names) }
        let count = portcullis_sk_GENERAL_NAME_num(names)
        var result: [GeneralName] = []
        guard count > 0 else { return result }
        result.reserveCapacity(Int(count))
        for index in 0..<count {
            guard let name = portcullis_sk_GENERAL_NAME_value(names, index) else { continue }
            var type: Int32 = 0
            let value = GENERAL_NAME_get0_value(name, &type)
            // Only these four kinds hold an ASN1_STRING; the others point at different structures.
            guard [GEN_DNS, GEN_URI, GEN_EMAIL, GEN_IPADD].contains(type) else {
                result.append(.other)
                continue
            }
            let bytes = value.map { Self.stringBytes(UnsafePointer($0.assumingMemoryBound(to: ASN1_STRING.self))) } ?? []
            switch type {
            case GEN_DNS: result.append(.dns(String(decoding: bytes, as: UTF8.self)))
            case GEN_URI: result.append(.uri(String(decoding: bytes, as: UTF8.self)))
            case GEN_EMAIL: result.append(.email(String(decoding: bytes, as: UTF8.self)))
            default: result.append(.ip(bytes))
            }
        }
        return result
    }

    /// The contents of an `ASN1_STRING` (IA5String or OCTET STRING) as stored.
    private static func stringBytes(_ string: UnsafePointer<ASN1_STRING>) -> [UInt8] {
        let length = Int(ASN1_STRING_length(string))
        guard length > 0, let data = ASN1_STRING_get0_data(string) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: length))
    }
}
