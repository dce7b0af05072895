internal import COpenSSL
internal import OpenSSLCrypto

extension Context {
    /// The server's ALPN choice: `(connection, protocols the client offered, in its order) -> selection`.
    /// A thrown error aborts the handshake with a fatal alert and is rethrown unchanged from the call that
    /// drove the handshake.
    public typealias ALPNSelectCallback = @Sendable (_ connection: Connection, _ offered: [[UInt8]]) throws -> ALPNSelection

    /// The protocols a client offers, most preferred first (`SSL_CTX_set_alpn_protos`). Each must be 1...255
    /// bytes; an empty list is refused (OpenSSL would accept it and silently send nothing).
    public func setALPNProtos(_ protocols: [[UInt8]]) throws {
        try ensureMutable()
        let wire = try ALPNWire.encode(protocols)
        OpenSSLErrorQueue.clear()
        // SSL_CTX_set_alpn_protos returns 0 on success, unlike most of OpenSSL.
        let status = wire.withUnsafeBufferPointer { SSL_CTX_set_alpn_protos(pointer, $0.baseAddress, UInt32($0.count)) }
        guard status == 0 else { throw SSLError.fromQueue("SSL_CTX_set_alpn_protos") }
    }

    /// `setALPNProtos` for protocol names given as strings ("h2", "http/1.1").
    public func setALPNProtos(_ protocols: [String]) throws {
        try setALPNProtos(protocols.map { Array($0.utf8) })
    }

    /// Installs the server's ALPN selection callback (`SSL_CTX_set_alpn_select_cb`).
    public func setALPNSelectCallback(_ callback: @escaping ALPNSelectCallback) throws {
        try ensureMutable()
        alpnSelectCallback = callback
        SSL_CTX_set_alpn_select_cb(pointer, alpnSelectTrampoline, nil)
    }
}

/// The length-prefixed protocol lists of ALPN and NPN.
enum ALPNWire {
    /// Encodes protocols as the wire format (one length byte, then the name).
    static func encode(_ protocols: [[UInt8]]) throws(SSLError) -> [UInt8] {
        guard !protocols.isEmpty else { throw SSLError.invalidArgument("at least one protocol must be specified") }
        var wire: [UInt8] = []
        for name in protocols {
            guard (1...255).contains(name.count) else {
                throw SSLError.invalidArgument("each protocol must be 1 to 255 bytes long, got \(name.count)")
            }
            wire.append(UInt8(name.count))
            wire.append(contentsOf: name)
        }
        return wire
    }

    /// Decodes the wire format; a malformed tail is ignored.
    static func decode(_ base: UnsafePointer<UInt8>?, _ count: Int) -> [[UInt8]] {
        guard let base, count > 0 else { return [] }
        let bytes = UnsafeBufferPointer(start: base, count: count)
        var protocols: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            let length = Int(bytes[index])
            index += 1
            guard length > 0, index + length <= bytes.count else { break }
            protocols.append(Array(bytes[index..<index + length]))
            index += length
        }
        return protocols
    }

    /// The address of `name` inside the wire-format list, if it is one of its entries.
    static func locate(_ name: [UInt8], in base: UnsafePointer<UInt8>, _ count: Int) -> UnsafePointer<UInt8>? {
        var index = 0
        while index < count {
            let length = Int(base[index])
            index += 1
            guard index + length <= count else { return nil }
            if length == name.count, name.withUnsafeBytes({ memcmp(base + index, $0.baseAddress!, length) == 0 }) {
                return base + index
            }
            index += length
        }
        return nil
    }
}

private func alpnSelectTrampoline(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
    _ input: UnsafePointer<UInt8>?, _ inputLength: UInt32, _ arg: UnsafeMutableRawPointer?
) -> Int32 {
    guard let ssl, let ctx = SSL_get_SSL_CTX(ssl), let context = Context.from(ctx),
          let callback = context.alpnSelectCallback else { return SSL_TLSEXT_ERR_NOACK }
    guard let connection = Connection.from(ssl), let out, let outLength, let input else {
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
    do {
        switch try callback(connection, ALPNWire.decode(input, Int(inputLength))) {
        case .noOverlap:
            return SSL_TLSEXT_ERR_NOACK
        case .abort:
            return SSL_TLSEXT_ERR_ALERT_FATAL
        case .select(let name):
            // Point into the client's own list: it outlives this call (OpenSSL copies the choice right after),
            // and a protocol the client did not offer is a protocol violation (RFC 7301).
            guard let selected = ALPNWire.locate(name, in: input, Int(inputLength)) else {
                connection.recordCallbackError(SSLError.invalidArgument(
                    "the ALPN select callback chose \(String(decoding: name, as: UTF8.self).debugDescription), which the client did not offer"))
                return SSL_TLSEXT_ERR_ALERT_FATAL
            }
            out.pointee = selected
            outLength.pointee = UInt8(name.count)
            return SSL_TLSEXT_ERR_OK
        }
    } catch {
        connection.recordCallbackError(error)
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
}
