public import OpenSSLCrypto

extension SSL {
    /// The old SSL manual's re-export of the file types for `useCertificateFile`/`usePrivateKeyFile`
    /// (the same `FileType` as `Crypto.FILETYPE_*`).
    public static let FILETYPE_PEM = FileType.pem
    public static let FILETYPE_ASN1 = FileType.asn1
}
