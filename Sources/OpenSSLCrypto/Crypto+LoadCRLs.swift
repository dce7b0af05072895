internal import COpenSSL

extension Crypto {
    /// Parses every CRL in a buffer: all `X509 CRL` blocks of a PEM file, in order (other PEM blocks, such
    /// as certificates, are skipped and never trusted), or the one CRL of a DER buffer.
    ///
    /// Not in pyOpenSSL, whose `load_crl` reads only the first PEM block; a CRL file for a trust store
    /// commonly concatenates one CRL per issuing CA.
    ///
    /// - Throws: `.invalidArgument` for `.text`; `.openSSL` when the buffer holds no CRL ("no start line") or
    ///   a CRL block does not parse (a bad block after good ones fails the whole load rather than being
    ///   dropped).
    public static func loadCRLs(_ type: FileType, _ buffer: some Collection<UInt8>) throws -> [CRL] {
        switch type {
        case .asn1: return [try loadCRL(.asn1, buffer)]
        case .text: throw CryptoError.invalidArgument("type argument must be FILETYPE_PEM or FILETYPE_ASN1")
        case .pem: break
        }
        OpenSSLErrorQueue.clear()
        let bio = try MemoryBIO(buffer)
        var crls: [CRL] = []
        while true {
            guard let crl = PEM_read_bio_X509_CRL(bio.pointer, nil, nil, nil) else {
                let last = ERR_peek_last_error()
                let exhausted = ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE
                guard exhausted, !crls.isEmpty else { throw CryptoError.fromQueue() }
                OpenSSLErrorQueue.clear()
                return withExtendedLifetime(bio) { crls }
            }
            crls.append(CRL(owning: crl))
        }
    }
}
