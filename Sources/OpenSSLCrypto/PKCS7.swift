internal import COpenSSL
internal import COpenSSLShim

/// A parsed PKCS#7 structure (pyOpenSSL's `crypto.PKCS7`, from `Crypto.loadPKCS7Data`). Owns one `PKCS7 *`.
public final class PKCS7: @unchecked Sendable {
    /// The owned `PKCS7 *`.
    package let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit { PKCS7_free(typed) }

    private var typed: UnsafeMutablePointer<COpenSSL.PKCS7> { UnsafeMutablePointer(pointer) }

    /// True for pkcs7-signedData.
    public func typeIsSigned() -> Bool { portcullis_PKCS7_type_is_signed(typed) != 0 }
    /// True for pkcs7-envelopedData.
    public func typeIsEnveloped() -> Bool { portcullis_PKCS7_type_is_enveloped(typed) != 0 }
    /// True for pkcs7-signedAndEnvelopedData.
    public func typeIsSignedAndEnveloped() -> Bool { portcullis_PKCS7_type_is_signedAndEnveloped(typed) != 0 }
    /// True for pkcs7-data.
    public func typeIsData() -> Bool { portcullis_PKCS7_type_is_data(typed) != 0 }

    /// The OpenSSL short name of the content type, for example `"pkcs7-signedData"` (`PKCS7.get_type_name`).
    public func getTypeName() -> [UInt8] {
        guard let name = OBJ_nid2sn(OBJ_obj2nid(typed.pointee.type)) else { return [] }
        return Array(String(cString: name).utf8)
    }
}

extension Crypto {
    /// Parses a PEM (`BEGIN PKCS7`) or DER PKCS#7 structure (`crypto.load_pkcs7_data`). `.text` is
    /// `.invalidArgument`; garbage is `.openSSL`.
    public static func loadPKCS7Data(_ type: FileType, _ buffer: some Collection<UInt8>) throws -> PKCS7 {
        OpenSSLErrorQueue.clear()
        let p7: UnsafeMutablePointer<COpenSSL.PKCS7>?
        switch type {
        case .pem:
            let bio = try MemoryBIO(buffer)
            defer { withExtendedLifetime(bio) {} }  // the C call below reads bio.pointer after its last Swift use
            p7 = PEM_read_bio_PKCS7(bio.pointer, nil, nil, nil)
        case .asn1:
            let bio = try MemoryBIO(buffer)
            defer { withExtendedLifetime(bio) {} }  // the C call below reads bio.pointer after its last Swift use
            p7 = d2i_PKCS7_bio(bio.pointer, nil)
        case .text: throw CryptoError.invalidArgument("type argument must be FILETYPE_PEM or FILETYPE_ASN1")
        }
        guard let p7 else { throw CryptoError.fromQueue() }
        return PKCS7(owning: OpaquePointer(p7))
    }

    /// Parses PKCS#7 given as PEM text.
    public static func loadPKCS7Data(_ type: FileType, _ text: String) throws -> PKCS7 {
        try loadPKCS7Data(type, Array(text.utf8))
    }
}
