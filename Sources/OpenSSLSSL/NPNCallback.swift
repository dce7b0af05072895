internal import COpenSSL
internal import COpenSSLShim

extension Context {
    /// NPN server: the protocols to advertise to this connection.
    public typealias NPNAdvertiseCallback = @Sendable (_ connection: Connection) throws -> [[UInt8]]
    /// NPN client: picks one of the server's protocols (it may also name one the server did not list).
    public typealias NPNSelectCallback = @Sendable (_ connection: Connection, _ offered: [[UInt8]]) throws -> [UInt8]

    /// Next Protocol Negotiation, server side (`SSL_CTX_set_next_protos_advertised_cb`). TLS <= 1.2 only.
    /// A thrown error aborts the handshake and is rethrown unchanged.
    @available(*, deprecated, message: "NPN is obsolete (removed from pyOpenSSL 20.0, never in TLS 1.3); use ALPN")
    public func setNPNAdvertiseCallback(_ callback: @escaping NPNAdvertiseCallback) throws {
        try ensureMutable()
        npnAdvertiseCallback = callback
        SSL_CTX_set_next_protos_advertised_cb(pointer, npnAdvertiseTrampoline, nil)
    }

    /// Next Protocol Negotiation, client side (`SSL_CTX_set_next_proto_select_cb`). TLS <= 1.2 only.
    /// A thrown error aborts the handshake and is rethrown unchanged.
    @available(*, deprecated, message: "NPN is obsolete (removed from pyOpenSSL 20.0, never in TLS 1.3); use ALPN")
    public func setNPNSelectCallback(_ callback: @escaping NPNSelectCallback) throws {
        try ensureMutable()
        npnSelectCallback = callback
        SSL_CTX_set_next_proto_select_cb(pointer, npnSelectTrampoline, nil)
    }
}

extension Connection {
    /// The protocol NPN settled on, or `[]` (`SSL_get0_next_proto_negotiated`).
    @available(*, deprecated, message: "NPN is obsolete; use getALPNProtoNegotiated()")
    public func getNextProtoNegotiated() -> [UInt8] {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_next_proto_negotiated(pointer, &data, &length)
        guard let data, length > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: Int(length)))
    }
}

/// Bytes an NPN callback hands to OpenSSL, which reads them after the callback returned: owned by the SSL
/// (ex_data slot, freed with it).
private final class NPNScratch {
    let storage: UnsafeMutableBufferPointer<UInt8>
    init(_ bytes: [UInt8]) {
        storage = .allocate(capacity: max(bytes.count, 1))
        _ = storage.initialize(from: bytes)
    }
    deinit { storage.deallocate() }

    static let index: Int32 = portcullis_SSL_get_ex_new_index(nil, npnScratchFree)

    /// Stores `bytes` on `ssl` (replacing earlier ones) and returns their stable address.
    static func keep(_ bytes: [UInt8], on ssl: OpaquePointer) -> UnsafeMutablePointer<UInt8> {
        let scratch = NPNScratch(bytes)
        if let old = SSL_get_ex_data(ssl, index) { Unmanaged<NPNScratch>.fromOpaque(old).release() }
        SSL_set_ex_data(ssl, index, Unmanaged.passRetained(scratch).toOpaque())
        return scratch.storage.baseAddress!
    }
}

private func npnScratchFree(
    _ parent: UnsafeMutableRawPointer?, _ ptr: UnsafeMutableRawPointer?, _ ad: UnsafeMutablePointer<CRYPTO_EX_DATA>?,
    _ idx: Int32, _ argl: Int, _ argp: UnsafeMutableRawPointer?
) {
    if let ptr { Unmanaged<NPNScratch>.fromOpaque(ptr).release() }
}

private func npnAdvertiseTrampoline(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt32>?,
    _ arg: UnsafeMutableRawPointer?
) -> Int32 {
    guard let ssl, let out, let outLength, let ctx = SSL_get_SSL_CTX(ssl),
          let callback = Context.from(ctx)?.npnAdvertiseCallback, let connection = Connection.from(ssl) else {
        return SSL_TLSEXT_ERR_NOACK
    }
    do {
        let wire = try ALPNWire.encode(callback(connection))
        out.pointee = UnsafePointer(NPNScratch.keep(wire, on: ssl))
        outLength.pointee = UInt32(wire.count)
        return SSL_TLSEXT_ERR_OK
    } catch {
        connection.recordCallbackError(error)
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
}

private func npnSelectTrampoline(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
    _ input: UnsafePointer<UInt8>?, _ inputLength: UInt32, _ arg: UnsafeMutableRawPointer?
) -> Int32 {
    guard let ssl, let out, let outLength, let ctx = SSL_get_SSL_CTX(ssl),
          let callback = Context.from(ctx)?.npnSelectCallback, let connection = Connection.from(ssl) else {
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
    do {
        let chosen = try callback(connection, ALPNWire.decode(input, Int(inputLength)))
        guard (1...255).contains(chosen.count) else {
            throw SSLError.invalidArgument("the NPN select callback must return 1 to 255 bytes, got \(chosen.count)")
        }
        out.pointee = NPNScratch.keep(chosen, on: ssl)
        outLength.pointee = UInt8(chosen.count)
        return SSL_TLSEXT_ERR_OK
    } catch {
        connection.recordCallbackError(error)
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
}
