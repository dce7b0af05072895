internal import COpenSSL

/// An X.509 certificate (pyOpenSSL's `crypto.X509`). Owns one `X509 *` and frees it in `deinit`.
///
/// Not thread-safe while it is being mutated; a certificate that is only read may be shared.
public final class X509: @unchecked Sendable {
    /// The owned `X509 *`. Package-visible so `OpenSSLSSL` can hand it to libssl.
    package let pointer: OpaquePointer

    /// Takes ownership of `pointer` (one reference).
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Takes a new reference to `pointer`, for certificates borrowed from libssl.
    package convenience init(retaining pointer: OpaquePointer) {
        X509_up_ref(pointer)
        self.init(owning: pointer)
    }

    /// An empty certificate: version 1 (raw 0), serial 0, no validity and no key.
    public convenience init() throws {
        guard let cert = X509_new() else { throw CryptoError.fromQueue() }
        self.init(owning: cert)
    }

    deinit { X509_free(pointer) }
}

extension Crypto {
    /// Parses a PEM or DER certificate (`crypto.load_certificate`). `.text` is an argument error.
    public static func loadCertificate(_ type: FileType, _ buffer: some Collection<UInt8>) throws -> X509 {
        OpenSSLErrorQueue.clear()
        let bio = try MemoryBIO(buffer)
        let cert: OpaquePointer?
        switch type {
        case .pem: cert = PEM_read_bio_X509(bio.pointer, nil, nil, nil)
        case .asn1: cert = d2i_X509_bio(bio.pointer, nil)
        case .text: throw CryptoError.invalidArgument("type argument must be FILETYPE_PEM or FILETYPE_ASN1")
        }
        guard let cert else { throw CryptoError.fromQueue() }
        return X509(owning: cert)
    }

    /// Parses a certificate given as PEM text.
    public static func loadCertificate(_ type: FileType, _ text: String) throws -> X509 {
        try loadCertificate(type, Array(text.utf8))
    }

    /// Encodes a certificate as PEM, DER or human-readable text (`crypto.dump_certificate`).
    public static func dumpCertificate(_ type: FileType, _ cert: X509) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        let bio = try MemoryBIO()
        let ok: Int32
        switch type {
        case .pem: ok = PEM_write_bio_X509(bio.pointer, cert.pointer)
        case .asn1: ok = i2d_X509_bio(bio.pointer, cert.pointer)
        case .text: ok = X509_print_ex(bio.pointer, cert.pointer, 0, 0)
        }
        guard ok == 1 else { throw CryptoError.fromQueue() }
        return bio.bytes()
    }
}
