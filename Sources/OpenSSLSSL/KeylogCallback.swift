internal import COpenSSL

extension Context {
    /// Receives NSS key-log lines (`CLIENT_RANDOM ...`, `CLIENT_HANDSHAKE_TRAFFIC_SECRET ...`), without the
    /// newline, for tools such as Wireshark. The lines are secrets: handle them accordingly. A thrown error is
    /// recorded and rethrown by the call that drove OpenSSL.
    public typealias KeylogCallback = @Sendable (_ connection: Connection, _ line: [UInt8]) throws -> Void

    /// Installs the key-log callback (`SSL_CTX_set_keylog_callback`).
    public func setKeylogCallback(_ callback: @escaping KeylogCallback) throws {
        try ensureMutable()
        keylogCallback = callback
        SSL_CTX_set_keylog_callback(pointer, keylogTrampoline)
    }
}

private func keylogTrampoline(_ ssl: OpaquePointer?, _ line: UnsafePointer<CChar>?) {
    guard let ssl, let line, let ctx = SSL_get_SSL_CTX(ssl), let context = Context.from(ctx),
          let callback = context.keylogCallback, let connection = Connection.from(ssl) else { return }
    do {
        try callback(connection, Array(UnsafeRawBufferPointer(start: line, count: strlen(line))))
    } catch {
        connection.recordCallbackError(error)
    }
}
