internal import COpenSSL
internal import COpenSSLShim

extension Context {
    /// Server side of OCSP stapling: `(connection, data) -> DER OCSPResponse to staple`, or `[]` to staple
    /// nothing. Called only when the client asked for stapling. A thrown error aborts the handshake and is
    /// rethrown unchanged from the call that drove it.
    public typealias OCSPServerCallback = @Sendable (_ connection: Connection, _ data: (any Sendable)?) throws -> [UInt8]
    /// Client side of OCSP stapling: `(connection, stapled DER response or [] when none, data) -> acceptable`.
    /// Called only when the client requested stapling (`Connection.requestOCSP`). False aborts the handshake;
    /// a thrown error aborts it and is rethrown unchanged.
    public typealias OCSPClientCallback = @Sendable (_ connection: Connection, _ response: [UInt8], _ data: (any Sendable)?) throws -> Bool

    /// Installs the server's stapling callback (`SSL_CTX_set_tlsext_status_cb`). OpenSSL has one status
    /// callback per context, so this replaces a client callback set on the same Context.
    public func setOCSPServerCallback(_ callback: @escaping OCSPServerCallback, data: (any Sendable)? = nil) throws {
        try ensureMutable()
        ocspCallback = OCSPCallbackBox(kind: .server(callback), data: data)
        _ = portcullis_SSL_CTX_set_tlsext_status_cb(pointer, ocspTrampoline)
    }

    /// Installs the client's check of the stapled response (`SSL_CTX_set_tlsext_status_cb`); replaces a
    /// server callback set on the same Context.
    public func setOCSPClientCallback(_ callback: @escaping OCSPClientCallback, data: (any Sendable)? = nil) throws {
        try ensureMutable()
        ocspCallback = OCSPCallbackBox(kind: .client(callback), data: data)
        _ = portcullis_SSL_CTX_set_tlsext_status_cb(pointer, ocspTrampoline)
    }
}

/// The OCSP callback of one Context and its opaque data.
final class OCSPCallbackBox: Sendable {
    enum Kind: Sendable {
        case server(Context.OCSPServerCallback)
        case client(Context.OCSPClientCallback)
    }

    let kind: Kind
    let data: (any Sendable)?

    init(kind: Kind, data: (any Sendable)?) {
        self.kind = kind
        self.data = data
    }
}

private func ocspTrampoline(_ ssl: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let ctx = SSL_get_SSL_CTX(ssl), let box = Context.from(ctx)?.ocspCallback,
          let connection = Connection.from(ssl) else { return SSL_TLSEXT_ERR_ALERT_FATAL }
    switch box.kind {
    case .server(let callback):
        do {
            let response = try callback(connection, box.data)
            guard !response.isEmpty else { return SSL_TLSEXT_ERR_NOACK }
            // OpenSSL takes ownership of an OPENSSL_malloc'd copy.
            guard let copy = portcullis_OPENSSL_malloc(response.count) else { return SSL_TLSEXT_ERR_ALERT_FATAL }
            response.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            guard portcullis_SSL_set_tlsext_status_ocsp_resp(ssl, copy.assumingMemoryBound(to: UInt8.self), response.count) == 1 else {
                portcullis_OPENSSL_free(copy)
                return SSL_TLSEXT_ERR_ALERT_FATAL
            }
            return SSL_TLSEXT_ERR_OK
        } catch {
            connection.recordCallbackError(error)
            return SSL_TLSEXT_ERR_ALERT_FATAL
        }
    case .client(let callback):
        var base: UnsafePointer<UInt8>?
        let length = portcullis_SSL_get_tlsext_status_ocsp_resp(ssl, &base)
        let response = (length > 0 && base != nil) ? Array(UnsafeBufferPointer(start: base, count: length)) : []
        do {
            return try callback(connection, response, box.data) ? 1 : 0
        } catch {
            connection.recordCallbackError(error)
            return 0
        }
    }
}
