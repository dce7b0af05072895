internal import COpenSSL
internal import OpenSSLCrypto

/// The Swift callbacks installed on one Connection (not on its Context). Held by the Connection, so they live
/// exactly as long as the `SSL *` whose C trampolines call them. A callback must use the Connection it is
/// passed rather than capture it: capturing makes a reference cycle that keeps the Connection and its `SSL *`
/// alive forever.
package struct ConnectionCallbacks {
    package var verify: Connection.VerifyCallback?
    package var info: Connection.InfoCallback?
    package init() {}
}

extension Connection {
    /// A certificate verification callback, the same type as the Context's (see `Context.VerifyCallback`):
    /// `(connection, certificate, X509_V_* error, depth, preverifyOK) -> accept`. Returning `true` clears the
    /// error (`X509_V_OK`); throwing aborts the handshake and the error is rethrown, unchanged, from the call
    /// that drove it (`doHandshake`, `handshakeStep`, `recv`, ...).
    public typealias VerifyCallback = Context.VerifyCallback
    /// An info callback: `(connection, where (SSL_CB_* bits), ret)`. OpenSSL cannot be stopped from an info
    /// callback, so an error it throws is recorded and rethrown when the driving call returns; the handshake
    /// must then be abandoned.
    public typealias InfoCallback = (Connection, Int32, Int32) throws -> Void

    /// Overrides the Context's verification for this connection only (`Connection.set_verify`). The callback
    /// receives this connection; capturing it instead would keep the connection alive forever (a cycle).
    ///
    /// `mode` is a combination of `SSL.VERIFY_*` bits. Without a callback OpenSSL's own verdict stands (the
    /// Context's callback is no longer called for this connection). The Context is not changed.
    public func setVerify(_ mode: Int32, callback: VerifyCallback? = nil) {
        connectionCallbacks.verify = callback
        SSL_set_verify(pointer, mode, callback == nil ? nil : connectionVerifyTrampoline)
    }

    /// The verify mode in force for this connection (`get_verify_mode`).
    public func getVerifyMode() -> Int32 { SSL_get_verify_mode(pointer) }

    /// Maximum certificate chain depth for this connection (`SSL_set_verify_depth`).
    public func setVerifyDepth(_ depth: Int32) { SSL_set_verify_depth(pointer, depth) }

    /// The verify depth in force for this connection.
    public func getVerifyDepth() -> Int32 { SSL_get_verify_depth(pointer) }

    /// Installs an info callback for this connection only (`Connection.set_info_callback`); nil removes it.
    /// Use the connection the callback receives: capturing this one would keep it alive forever (a cycle).
    public func setInfoCallback(_ callback: InfoCallback?) {
        connectionCallbacks.info = callback
        SSL_set_info_callback(pointer, callback == nil ? nil : connectionInfoTrampoline)
    }
}

/// `SSL_verify_cb` for per-connection callbacks.
private func connectionVerifyTrampoline(_ preverifyOK: Int32, _ storeContext: OpaquePointer?) -> Int32 {
    guard let storeContext,
          let raw = X509_STORE_CTX_get_ex_data(storeContext, SSL_get_ex_data_X509_STORE_CTX_idx()),
          let connection = Connection.from(OpaquePointer(raw))
    else { return 0 }
    // An earlier callback already failed: stop at once so the handshake does not continue.
    if connection.pendingCallbackError != nil { return 0 }
    guard let callback = connection.connectionCallbacks.verify else { return preverifyOK }
    guard let current = X509_STORE_CTX_get_current_cert(storeContext) else { return 0 }
    return verdict(of: callback, for: connection, certificate: current, storeContext: storeContext, preverify: preverifyOK)
}

/// Info callback trampoline (`SSL_set_info_callback`).
private func connectionInfoTrampoline(_ ssl: OpaquePointer?, _ where: Int32, _ ret: Int32) {
    guard let ssl, let connection = Connection.from(ssl), let callback = connection.connectionCallbacks.info else { return }
    if connection.pendingCallbackError != nil { return }
    do {
        try callback(connection, `where`, ret)
    } catch {
        connection.recordCallbackError(error)
    }
}
