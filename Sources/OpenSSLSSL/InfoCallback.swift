internal import COpenSSL

extension Context {
    /// A handshake/alert progress callback: `(connection, where (SSL.SSL_CB_* bits), ret)`. OpenSSL cannot be
    /// stopped from it, so a thrown error is recorded and rethrown by the call that drove OpenSSL; abandon the
    /// connection then.
    public typealias InfoCallback = @Sendable (_ connection: Connection, _ where: Int32, _ ret: Int32) throws -> Void

    /// Installs the info callback for every Connection of this Context (`SSL_CTX_set_info_callback`).
    /// A Connection's own `setInfoCallback` takes precedence.
    public func setInfoCallback(_ callback: @escaping InfoCallback) throws {
        try ensureMutable()
        infoCallback = callback
        SSL_CTX_set_info_callback(pointer, contextInfoTrampoline)
    }
}

private func contextInfoTrampoline(_ ssl: OpaquePointer?, _ where: Int32, _ ret: Int32) {
    guard let ssl, let ctx = SSL_get_SSL_CTX(ssl), let context = Context.from(ctx),
          let callback = context.infoCallback, let connection = Connection.from(ssl) else { return }
    do {
        try callback(connection, `where`, ret)
    } catch {
        connection.recordCallbackError(error)
    }
}
