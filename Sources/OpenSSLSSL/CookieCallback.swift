internal import COpenSSL

extension Context {
    /// DTLS server: makes the cookie sent in HelloVerifyRequest (at most 255 bytes; longer is an error, as in
    /// pyOpenSSL since CVE-2026-27459). Used with `OP_COOKIE_EXCHANGE` and `Connection.dtlsv1Listen`.
    /// A thrown error aborts the handshake and is rethrown unchanged.
    public typealias CookieGenerateCallback = @Sendable (_ connection: Connection) throws -> [UInt8]
    /// DTLS server: checks the cookie the client echoed. A thrown error aborts the handshake and is rethrown.
    public typealias CookieVerifyCallback = @Sendable (_ connection: Connection, _ cookie: [UInt8]) throws -> Bool

    /// Installs the DTLS cookie generator (`SSL_CTX_set_cookie_generate_cb`).
    public func setCookieGenerateCallback(_ callback: @escaping CookieGenerateCallback) throws {
        try ensureMutable()
        cookieGenerateCallback = callback
        SSL_CTX_set_cookie_generate_cb(pointer, cookieGenerateTrampoline)
    }

    /// Installs the DTLS cookie verifier (`SSL_CTX_set_cookie_verify_cb`).
    public func setCookieVerifyCallback(_ callback: @escaping CookieVerifyCallback) throws {
        try ensureMutable()
        cookieVerifyCallback = callback
        SSL_CTX_set_cookie_verify_cb(pointer, cookieVerifyTrampoline)
    }
}

private func cookieGenerateTrampoline(_ ssl: OpaquePointer?, _ cookie: UnsafeMutablePointer<UInt8>?, _ length: UnsafeMutablePointer<UInt32>?) -> Int32 {
    guard let ssl, let cookie, let length, let ctx = SSL_get_SSL_CTX(ssl),
          let callback = Context.from(ctx)?.cookieGenerateCallback, let connection = Connection.from(ssl) else { return 0 }
    do {
        let bytes = try callback(connection)
        // OpenSSL's buffer holds DTLS1_COOKIE_LENGTH (255) bytes.
        guard bytes.count <= Int(DTLS1_COOKIE_LENGTH) else {
            connection.recordCallbackError(SSLError.invalidArgument(
                "cookie generate callback returned \(bytes.count) bytes; the maximum is \(DTLS1_COOKIE_LENGTH)"))
            return 0
        }
        bytes.withUnsafeBytes { if !$0.isEmpty { UnsafeMutableRawPointer(cookie).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        length.pointee = UInt32(bytes.count)
        return 1
    } catch {
        connection.recordCallbackError(error)
        return 0
    }
}

private func cookieVerifyTrampoline(_ ssl: OpaquePointer?, _ cookie: UnsafePointer<UInt8>?, _ length: UInt32) -> Int32 {
    guard let ssl, let ctx = SSL_get_SSL_CTX(ssl), let callback = Context.from(ctx)?.cookieVerifyCallback,
          let connection = Connection.from(ssl) else { return 0 }
    let bytes = cookie.map { Array(UnsafeBufferPointer(start: $0, count: Int(length))) } ?? []
    do {
        return try callback(connection, bytes) ? 1 : 0
    } catch {
        connection.recordCallbackError(error)
        return 0
    }
}
