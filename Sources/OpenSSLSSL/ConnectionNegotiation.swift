internal import COpenSSL
internal import COpenSSLShim
internal import OpenSSLCrypto

// What the handshake negotiated, and the per-connection requests that influence it.

extension Connection {
    /// The negotiated cipher suite's name (`get_cipher_name`), nil before the handshake.
    public func getCipherName() -> String? {
        guard let cipher = SSL_get_current_cipher(pointer), let name = SSL_CIPHER_get_name(cipher) else { return nil }
        return String(cString: name)
    }

    /// The negotiated cipher's secret bits (`get_cipher_bits`), nil before the handshake.
    public func getCipherBits() -> Int? {
        guard let cipher = SSL_get_current_cipher(pointer) else { return nil }
        return Int(SSL_CIPHER_get_bits(cipher, nil))
    }

    /// The protocol version that defined the negotiated cipher suite (`get_cipher_version`,
    /// `SSL_CIPHER_get_version`), e.g. "TLSv1.3" for TLS_AES_256_GCM_SHA384; nil before the handshake.
    public func getCipherVersion() -> String? {
        guard let cipher = SSL_get_current_cipher(pointer), let version = SSL_CIPHER_get_version(cipher) else {
            return nil
        }
        return String(cString: version)
    }

    /// The cipher suites this connection would offer or accept, in preference order (`get_cipher_list`):
    /// the TLS 1.3 suites first, then the TLS 1.2-and-below list.
    public func getCipherList() -> [String] {
        var names: [String] = []
        var index: Int32 = 0
        while let name = SSL_get_cipher_list(pointer, index) {
            names.append(String(cString: name))
            index += 1
        }
        return names
    }

    /// The protocol version name (`get_protocol_version_name`, `SSL_get_version`), e.g. "TLSv1.3".
    public func getProtocolVersionName() -> String {
        guard let name = SSL_get_version(pointer) else { return "" }
        return String(cString: name)
    }

    /// The protocol version number (`get_protocol_version`, `SSL_version`), e.g. `SSL.TLS1_3_VERSION`.
    public func getProtocolVersion() -> Int32 { SSL_version(pointer) }

    /// The negotiated key-exchange group (`get_group_name`), e.g. "x25519"; nil before the handshake.
    /// OpenSSL 3.0 has no `SSL_get0_group_name`; `SSL_group_to_name(SSL_get_negotiated_group)` gives the
    /// same answer.
    public func getGroupName() -> String? {
        // OpenSSL 3.0 dereferences the session without checking it: ask only once one exists.
        guard SSL_get_session(pointer) != nil else { return nil }
        let group = portcullis_conn_SSL_get_negotiated_group(pointer)
        guard group != 0, let name = SSL_group_to_name(pointer, group) else { return nil }
        return String(cString: name)
    }

    /// The ALPN protocol the handshake selected (`get_alpn_proto_negotiated`), or `[]`.
    public func getALPNProtoNegotiated() -> [UInt8] {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(pointer, &data, &length)
        guard let data, length > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: Int(length)))
    }

    /// Sets this connection's ALPN offer (client side, `set_alpn_protos`), most preferred first.
    /// An empty list, an empty name or a name over 255 bytes is `invalidArgument`.
    public func setALPNProtos(_ protocols: [[UInt8]]) throws {
        OpenSSLErrorQueue.clear()
        guard !protocols.isEmpty else { throw SSLError.invalidArgument("at least one protocol must be specified") }
        var wire: [UInt8] = []
        for name in protocols {
            guard !name.isEmpty, name.count <= 255 else {
                throw SSLError.invalidArgument("ALPN protocol names must be 1 to 255 bytes long")
            }
            wire.append(UInt8(name.count))
            wire.append(contentsOf: name)
        }
        // SSL_set_alpn_protos returns 0 on success.
        let status = wire.withUnsafeBufferPointer { SSL_set_alpn_protos(pointer, $0.baseAddress, UInt32($0.count)) }
        guard status == 0 else { throw SSLError.fromQueue() }
    }

    /// `setALPNProtos` with protocol names as strings ("h2", "http/1.1").
    public func setALPNProtos(_ protocols: [String]) throws {
        try setALPNProtos(protocols.map { Array($0.utf8) })
    }

    /// The SNI host name (`get_servername`): on a server the name the client sent, on a client the name it set;
    /// nil when absent. On a resumed TLS 1.2 session OpenSSL returns the name stored in the session.
    public func getServername() -> [UInt8]? {
        guard let name = SSL_get_servername(pointer, TLSEXT_NAMETYPE_host_name) else { return nil }
        return Array(String(cString: name).utf8)
    }

    /// Sets the SNI host name a client sends (`set_tlsext_host_name`). An embedded NUL is `invalidArgument`.
    public func setTLSExtHostName(_ name: some Collection<UInt8>) throws {
        OpenSSLErrorQueue.clear()
        var bytes = Array(name)
        guard !bytes.contains(0) else { throw SSLError.invalidArgument("host name must not contain NUL bytes") }
        bytes.append(0)
        let ok = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { portcullis_conn_SSL_set_tlsext_host_name(pointer, $0.baseAddress) }
        }
        guard ok == 1 else { throw SSLError.fromQueue() }
    }

    /// `setTLSExtHostName` from a string.
    public func setTLSExtHostName(_ name: String) throws {
        try setTLSExtHostName(Array(name.utf8))
    }

    /// Asks the server to staple an OCSP response (`request_ocsp`, client side). The Context's OCSP client
    /// callback sees the answer.
    public func requestOCSP() throws {
        OpenSSLErrorQueue.clear()
        guard portcullis_conn_SSL_set_tlsext_status_type(pointer, TLSEXT_STATUSTYPE_ocsp) == 1 else {
            throw SSLError.fromQueue()
        }
    }

    /// The negotiated DTLS-SRTP profile name (`get_selected_srtp_profile`), or `[]`.
    public func getSelectedSRTPProfile() -> [UInt8] {
        guard let profile = SSL_get_selected_srtp_profile(pointer), let name = profile.pointee.name else { return [] }
        return Array(String(cString: name).utf8)
    }

    // MARK: Keys and handshake transcripts

    /// The 32-byte client random (`client_random`), nil before a session exists.
    public func clientRandom() -> [UInt8]? {
        // OpenSSL reports 32 bytes even before the handshake; pyOpenSSL returns None then.
        guard SSL_get_session(pointer) != nil else { return nil }
        return copyOut(SSL_get_client_random(pointer, nil, 0)) { SSL_get_client_random(pointer, $0, $1) }
    }

    /// The 32-byte server random (`server_random`), nil before a session exists.
    public func serverRandom() -> [UInt8]? {
        guard SSL_get_session(pointer) != nil else { return nil }
        return copyOut(SSL_get_server_random(pointer, nil, 0)) { SSL_get_server_random(pointer, $0, $1) }
    }

    /// The session's master secret (`master_key`), nil before a session exists.
    public func masterKey() -> [UInt8]? {
        guard let session = SSL_get_session(pointer) else { return nil }
        return copyOut(SSL_SESSION_get_master_key(session, nil, 0)) { SSL_SESSION_get_master_key(session, $0, $1) }
    }

    /// The last Finished message this end sent (`get_finished`), nil before one was sent.
    public func getFinished() -> [UInt8]? {
        let size = SSL_get_finished(pointer, nil, 0)
        guard size > 0 else { return nil }
        return copyOut(size) { SSL_get_finished(pointer, $0, $1) }
    }

    /// The last Finished message received from the peer (`get_peer_finished`), nil before one arrived.
    public func getPeerFinished() -> [UInt8]? {
        let size = SSL_get_peer_finished(pointer, nil, 0)
        guard size > 0 else { return nil }
        return copyOut(size) { SSL_get_peer_finished(pointer, $0, $1) }
    }

    /// Keying material exported from the session (`export_keying_material`, RFC 5705 / RFC 8446 7.5);
    /// identical on both ends for the same label and context. Fails before the handshake.
    public func exportKeyingMaterial(label: some Collection<UInt8>, length: Int, context: [UInt8]? = nil) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        guard length >= 0 else { throw SSLError.invalidArgument("length must not be negative") }
        let labelBytes = Array(label)
        let contextBytes = context ?? []
        var output = [UInt8](repeating: 0, count: length)
        let ok = labelBytes.withUnsafeBufferPointer { labelBuffer in
            contextBytes.withUnsafeBufferPointer { contextBuffer in
                output.withUnsafeMutableBufferPointer { out in
                    labelBuffer.withMemoryRebound(to: CChar.self) { labelChars in
                        SSL_export_keying_material(
                            pointer, out.baseAddress, out.count, labelChars.baseAddress, labelChars.count,
                            contextBuffer.baseAddress, contextBuffer.count, context == nil ? 0 : 1)
                    }
                }
            }
        }
        guard ok == 1 else { throw SSLError.fromQueue() }
        return output
    }

    /// `exportKeyingMaterial` with a string label.
    public func exportKeyingMaterial(label: String, length: Int, context: [UInt8]? = nil) throws -> [UInt8] {
        try exportKeyingMaterial(label: Array(label.utf8), length: length, context: context)
    }

    /// Allocates `size` bytes and lets `fill` write them (OpenSSL's "call with NULL for the size" idiom).
    private func copyOut(_ size: Int, _ fill: (UnsafeMutablePointer<UInt8>, Int) -> Int) -> [UInt8] {
        guard size > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            initialized = Swift.min(fill(buffer.baseAddress!, size), size)
        }
    }

    // MARK: Renegotiation (TLS 1.2 and below)

    /// Starts a renegotiation unless one is pending (`renegotiate`): true if started, false if one was
    /// already pending. TLS 1.3 has no renegotiation: OpenSSL refuses ("wrong ssl version") and this throws.
    public func renegotiate() throws -> Bool {
        guard !renegotiatePending() else { return false }
        OpenSSLErrorQueue.clear()
        guard SSL_renegotiate(pointer) == 1 else { throw SSLError.fromQueue() }
        return true
    }

    /// True while a renegotiation is in progress (`renegotiate_pending`).
    public func renegotiatePending() -> Bool { SSL_renegotiate_pending(pointer) == 1 }

    /// How many renegotiations this connection has gone through (`total_renegotiations`).
    public func totalRenegotiations() -> Int { portcullis_conn_SSL_total_renegotiations(pointer) }

    // MARK: Kernel TLS

    /// True when OpenSSL offloaded record encryption for sending to the kernel (kTLS). Always false for a
    /// memory-BIO connection, and false when the kernel has no `tls` module (OpenSSL falls back silently).
    public func isKTLSSendActive() -> Bool {
        guard case .socket = transport, let bio = SSL_get_wbio(pointer) else { return false }
        return portcullis_conn_BIO_get_ktls_send(bio) == 1
    }

    /// True when the kernel decrypts received records (kTLS receive; OpenSSL 3.0 does this for TLS 1.2 only).
    public func isKTLSRecvActive() -> Bool {
        guard case .socket = transport, let bio = SSL_get_rbio(pointer) else { return false }
        return portcullis_conn_BIO_get_ktls_recv(bio) == 1
    }
}
