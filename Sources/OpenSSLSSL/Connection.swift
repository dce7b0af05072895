internal import COpenSSL
internal import COpenSSLShim
public import OpenSSLCrypto

/// One TLS connection (pyOpenSSL's `SSL.Connection`), over a socket file descriptor or over a pair of memory
/// BIOs. Owns one `SSL *`. Not thread-safe: one thread drives a Connection at a time.
public final class Connection {
    /// The owned `SSL *`.
    package let pointer: OpaquePointer
    /// The Context this connection currently uses (changes with `setContext`, for SNI).
    package private(set) var context: Context
    /// An error thrown by a Swift callback while OpenSSL was running. The call that drove OpenSSL
    /// (`doHandshake`, `recv`, `send`, ...) rethrows it before anything else, so it is never swallowed.
    package var pendingCallbackError: (any Error)?

    /// Takes ownership of `pointer`, made from `context`.
    package init(owning pointer: OpaquePointer, context: Context) {
        self.pointer = pointer
        self.context = context
        context.markUsed()
        // O(1) lookup from C callbacks; unretained because the SSL never outlives this object.
        SSL_set_ex_data(pointer, 0, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit { SSL_free(pointer) }

    /// The Connection that owns `ssl`, for C callbacks.
    package static func from(_ ssl: OpaquePointer) -> Connection? {
        guard let raw = SSL_get_ex_data(ssl, 0) else { return nil }
        return Unmanaged<Connection>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Records a callback's error so the driving call rethrows it.
    package func recordCallbackError(_ error: any Error) {
        if pendingCallbackError == nil { pendingCallbackError = error }
    }

    /// Used by `setContext`: switches the Swift-side reference and freezes the new context.
    package func replaceContext(_ newContext: Context) {
        newContext.markUsed()
        context = newContext
    }
}
