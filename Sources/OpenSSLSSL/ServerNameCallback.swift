internal import COpenSSL
internal import COpenSSLShim

extension Context {
    /// Called on the server for every ClientHello, with or without SNI (`connection.getServername()` is nil
    /// then). Typically switches the Connection to another Context with `setContext`; after the switch,
    /// re-apply verification on the Connection (`setVerify`), because OpenSSL keeps the first Context's
    /// verify mode, callback, depth and options. A thrown error aborts the handshake with a fatal
    /// `unrecognized_name` alert and is rethrown unchanged from the call that drove the handshake.
    public typealias ServerNameCallback = @Sendable (_ connection: Connection) throws -> Void

    /// Installs the SNI callback (`SSL_CTX_set_tlsext_servername_callback`; pyOpenSSL's
    /// `set_tlsext_servername_callback`).
    public func setTLSExtServernameCallback(_ callback: @escaping ServerNameCallback) throws {
        try ensureMutable()
        serverNameCallback = callback
        _ = portcullis_SSL_CTX_set_tlsext_servername_callback(pointer, serverNameTrampoline)
    }
}

/// The servername callback. OpenSSL calls the callback of the SSL's current `SSL_CTX`, whose Swift Context
/// the Connection keeps alive.
private func serverNameTrampoline(
    _ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ arg: UnsafeMutableRawPointer?
) -> Int32 {
    guard let ssl, let ctx = SSL_get_SSL_CTX(ssl), let context = Context.from(ctx),
          let callback = context.serverNameCallback else { return SSL_TLSEXT_ERR_OK }
    guard let connection = Connection.from(ssl) else { return SSL_TLSEXT_ERR_ALERT_FATAL }
    do {
        try callback(connection)
        return SSL_TLSEXT_ERR_OK
    } catch {
        connection.recordCallbackError(error)
        alert?.pointee = SSL_AD_UNRECOGNIZED_NAME
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
}
