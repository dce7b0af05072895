internal import COpenSSL

/// An X.509 distinguished name (pyOpenSSL's `crypto.X509Name`).
///
/// A name is either owned (a copy) or a live view into a certificate or CSR. A view keeps its owner alive,
/// so the borrowed `X509_NAME *` can never dangle.
public final class X509Name: @unchecked Sendable {
    /// The `X509_NAME *`: owned when `owner` is nil, borrowed from `owner` otherwise.
    package let pointer: OpaquePointer
    /// The object whose memory `pointer` lives in, for views.
    private let owner: AnyObject?

    /// Takes ownership of `pointer`.
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
        self.owner = nil
    }

    /// A live view of a name inside `owner` (a certificate or CSR), which is kept alive.
    package init(borrowing pointer: OpaquePointer, owner: AnyObject) {
        self.pointer = pointer
        self.owner = owner
    }

    deinit {
        if owner == nil { X509_NAME_free(pointer) }
    }
}
