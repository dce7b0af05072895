internal import COpenSSL
internal import COpenSSLShim

extension Context {
    /// Called on the server as soon as a ClientHello arrives, before any extension is processed and before
    /// the SNI callback. Inside it, the Connection's `clientHello*` accessors describe what the client offered;
    /// `setContext` may switch certificates here too. A thrown error aborts the handshake with a fatal
    /// `handshake_failure` alert and is rethrown unchanged from the call that drove the handshake.
    public typealias ClientHelloCallback = @Sendable (_ connection: Connection) throws -> Void

    /// Installs the ClientHello callback (`SSL_CTX_set_client_hello_cb`).
    public func setClientHelloCallback(_ callback: @escaping ClientHelloCallback) throws {
        try ensureMutable()
        clientHelloCallback = callback
        SSL_CTX_set_client_hello_cb(pointer, clientHelloTrampoline, nil)
    }
}

private func clientHelloTrampoline(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let ctx = SSL_get_SSL_CTX(ssl), let context = Context.from(ctx),
          let callback = context.clientHelloCallback else { return SSL_CLIENT_HELLO_SUCCESS }
    guard let connection = Connection.from(ssl) else { return SSL_CLIENT_HELLO_ERROR }
    do {
        try callback(connection)
        return SSL_CLIENT_HELLO_SUCCESS
    } catch {
        connection.recordCallbackError(error)
        alert?.pointee = SSL_AD_HANDSHAKE_FAILURE
        return SSL_CLIENT_HELLO_ERROR
    }
}

/// What the client offered, readable only while a ClientHello callback runs (nil everywhere else).
extension Connection {
    /// True while this Connection's ClientHello callback runs.
    public var isInClientHello: Bool { SSL_client_hello_get0_legacy_version(pointer) != 0 }

    /// The ClientHello's legacy_version field (0x0303 for TLS 1.2 and 1.3 clients).
    public func clientHelloLegacyVersion() -> Int32? {
        let version = SSL_client_hello_get0_legacy_version(pointer)
        return version == 0 ? nil : Int32(version)
    }

    /// The offered cipher suites as IANA code points, in the client's order (GREASE values included).
    public func clientHelloCiphers() -> [UInt16]? {
        guard isInClientHello else { return nil }
        var base: UnsafePointer<UInt8>?
        let count = SSL_client_hello_get0_ciphers(pointer, &base)
        guard let base else { return [] }
        return Self.bigEndianPairs(UnsafeBufferPointer(start: base, count: count))
    }

    /// The extension types present, in the client's order.
    public func clientHelloExtensionTypes() -> [Int32]? {
        guard isInClientHello else { return nil }
        var types: UnsafeMutablePointer<Int32>?
        var count = 0
        guard SSL_client_hello_get1_extensions_present(pointer, &types, &count) == 1, let types else { return [] }
        defer { portcullis_OPENSSL_free(types) }
        return Array(UnsafeBufferPointer(start: types, count: count))
    }

    /// The raw body of one extension (`SSL_client_hello_get0_ext`), or nil when absent.
    public func clientHelloExtension(_ type: UInt32) -> [UInt8]? {
        guard isInClientHello else { return nil }
        var base: UnsafePointer<UInt8>?
        var count = 0
        guard SSL_client_hello_get0_ext(pointer, type, &base, &count) == 1 else { return nil }
        guard let base else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: count))
    }

    /// The host name from the server_name extension (type 0), or nil when the client sent none.
    public func clientHelloServerName() -> [UInt8]? {
        guard let body = clientHelloExtension(0), body.count >= 2 else { return nil }
        // ServerNameList: u16 length, then entries of (u8 type, u16 length, name); type 0 is host_name.
        var index = 2
        while index + 3 <= body.count {
            let type = body[index]
            let length = Int(body[index + 1]) << 8 | Int(body[index + 2])
            index += 3
            guard index + length <= body.count else { return nil }
            if type == 0 { return Array(body[index..<index + length]) }
            index += length
        }
        return nil
    }

    /// The offered signature algorithms (extension 13) as IANA SignatureScheme code points, in order.
    public func clientHelloSignatureAlgorithms() -> [UInt16]? {
        guard let body = clientHelloExtension(13), body.count >= 2 else { return nil }
        let length = min(Int(body[0]) << 8 | Int(body[1]), body.count - 2)
        return body.withUnsafeBufferPointer { Self.bigEndianPairs(UnsafeBufferPointer(rebasing: $0[2..<2 + length])) }
    }

    /// The offered supported_versions (extension 43), for example `[0x0304, 0x0303]`; nil for clients that
    /// only know TLS <= 1.2.
    public func clientHelloSupportedVersions() -> [UInt16]? {
        guard let body = clientHelloExtension(43), !body.isEmpty else { return nil }
        let length = min(Int(body[0]), body.count - 1)
        return body.withUnsafeBufferPointer { Self.bigEndianPairs(UnsafeBufferPointer(rebasing: $0[1..<1 + length])) }
    }

    /// The offered ALPN protocols (extension 16), in order.
    public func clientHelloALPNProtocols() -> [[UInt8]]? {
        guard let body = clientHelloExtension(16), body.count >= 2 else { return nil }
        return body.withUnsafeBufferPointer { ALPNWire.decode($0.baseAddress! + 2, $0.count - 2) }
    }

    private static func bigEndianPairs(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt16] {
        stride(from: 0, to: bytes.count - 1, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
    }
}
