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
