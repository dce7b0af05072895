internal import COpenSSL

/// Encoding selector for the `load*`/`dump*` functions (pyOpenSSL's `FILETYPE_*`), with pyOpenSSL's raw values.
public enum FileType: Int32, Sendable, CaseIterable {
    /// PEM (`SSL_FILETYPE_PEM`, 1).
    case pem = 1
    /// DER, called ASN1 by OpenSSL (`SSL_FILETYPE_ASN1`, 2).
    case asn1 = 2
    /// pyOpenSSL's human-readable pseudo type (65535), accepted only by the `dump*` functions that print.
    case text = 65535
}

extension Crypto {
    public static let FILETYPE_PEM = FileType.pem
    public static let FILETYPE_ASN1 = FileType.asn1
    public static let FILETYPE_TEXT = FileType.text
}
