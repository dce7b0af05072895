internal import COpenSSL

/// A public or private key (pyOpenSSL's `crypto.PKey`). Owns one `EVP_PKEY *` and frees it in `deinit`.
public final class PKey: @unchecked Sendable {
    /// The owned `EVP_PKEY *`, or nil for the empty container pyOpenSSL's `PKey()` makes.
    package private(set) var pointer: OpaquePointer?
    /// True when only the public half is known (loaded from a certificate, CSR or SubjectPublicKeyInfo).
    public internal(set) var isPublicOnly: Bool

    /// Takes ownership of `pointer` (one reference).
    package init(owning pointer: OpaquePointer, publicOnly: Bool) {
        self.pointer = pointer
        self.isPublicOnly = publicOnly
    }

    /// An empty key container: `type() == 0` and `bits() == 0` until a key is generated into it.
    public init() {
        self.pointer = nil
        self.isPublicOnly = false
    }

    /// Replaces the held key (used by `generateKey`).
    package func replace(with newPointer: OpaquePointer, publicOnly: Bool) {
        if let pointer { EVP_PKEY_free(pointer) }
        pointer = newPointer
        isPublicOnly = publicOnly
    }

    deinit {
        if let pointer { EVP_PKEY_free(pointer) }
    }
}
