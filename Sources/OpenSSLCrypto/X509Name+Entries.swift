internal import COpenSSL
internal import COpenSSLShim

extension X509Name {
    /// Every entry for `field`, in order, decoded to UTF-8 (`ASN1_STRING_to_UTF8`, so BMPString and
    /// UniversalString values read correctly). A subject may hold several entries of one field (two `OU`s).
    ///
    /// Structured: each value is one attribute as stored, so a CN written as `x, OU=ops` stays one CN and
    /// never reads as an OU, unlike the one-line and RFC 2253 text forms. Embedded NULs are kept.
    ///
    /// - Throws: `.openSSL` when a value's string type cannot be converted to UTF-8.
    public func entries(_ field: Field) throws -> [String] {
        let name = pointer
        OpenSSLErrorQueue.clear()
        var result: [String] = []
        var index = X509_NAME_get_index_by_NID(name, field.nid, -1)
        while index >= 0 {
            guard let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else {
                throw CryptoError.fromQueue()
            }
            var utf8: UnsafeMutablePointer<UInt8>?
            let length = ASN1_STRING_to_UTF8(&utf8, data)
            guard length >= 0, let utf8 else { throw CryptoError.fromQueue() }
            result.append(String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self))
            portcullis_OPENSSL_free(utf8)
            index = X509_NAME_get_index_by_NID(name, field.nid, index)
        }
        return withExtendedLifetime(self) { result }
    }
}
