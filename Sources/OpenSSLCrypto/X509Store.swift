internal import COpenSSL

/// A trust store (pyOpenSSL's `crypto.X509Store`). Owns one reference to an `X509_STORE *`.
public final class X509Store: @unchecked Sendable {
    /// The `X509_STORE *`. Package-visible so an SSL `Context` can expose its own store through this type.
    package let pointer: OpaquePointer

    /// Takes ownership of one reference to `pointer`.
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Takes a new reference to a store owned elsewhere (for example by an `SSL_CTX`).
    package convenience init(retaining pointer: OpaquePointer) {
        X509_STORE_up_ref(pointer)
        self.init(owning: pointer)
    }

    /// An empty store (`X509_STORE_new`).
    public convenience init() throws {
        guard let store = X509_STORE_new() else { throw CryptoError.fromQueue() }
        self.init(owning: store)
    }

    deinit { X509_STORE_free(pointer) }
}
