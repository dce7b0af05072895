internal import COpenSSL
internal import COpenSSLShim
public import OpenSSLCrypto
import Synchronization

/// A TLS context (pyOpenSSL's `SSL.Context`): certificates, verification, ciphers, session cache and callbacks
/// shared by the connections made from it. Owns one `SSL_CTX *`.
///
/// Thread safety: a Context is configured by one thread, then frozen by the first `Connection` made from it.
/// Every mutating method of a frozen Context throws `SSLError.contextInUse`; getters keep working. A frozen
/// Context is safe to share across threads, which is why it is `Sendable`.
public final class Context: @unchecked Sendable {
    /// The owned `SSL_CTX *`.
    package let pointer: OpaquePointer
    /// Set once by the first Connection; never cleared.
    private let frozen = Atomic<Bool>(false)

    /// Takes ownership of `pointer`.
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
        // Callbacks find their Context in O(1) through app data (ex_data index 0); the pointer is unretained
        // because the SSL_CTX never outlives this object.
        SSL_CTX_set_ex_data(pointer, 0, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit { SSL_CTX_free(pointer) }

    /// The Context that owns `ctx`, for C callbacks.
    package static func from(_ ctx: OpaquePointer) -> Context? {
        guard let raw = SSL_CTX_get_ex_data(ctx, 0) else { return nil }
        return Unmanaged<Context>.fromOpaque(raw).takeUnretainedValue()
    }

    /// True once a Connection was made from this Context (or it was passed to `Connection.setContext`).
    public var isFrozen: Bool { frozen.load(ordering: .acquiring) }

    /// Freezes the Context. Called by `Connection` init and `Connection.setContext`.
    package func markUsed() {
        frozen.store(true, ordering: .releasing)
    }

    /// Every mutating method calls this first.
    package func ensureMutable() throws(SSLError) {
        if isFrozen { throw SSLError.contextInUse }
    }
}
