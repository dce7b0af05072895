internal import COpenSSL
internal import COpenSSLShim
internal import OpenSSLCrypto

/// Protocol versions, ciphers, key-exchange groups, options and modes.
extension Context {
    /// Lowest protocol version to negotiate (`SSL.TLS1_2_VERSION`, ...; 0 = the lowest OpenSSL supports).
    public func setMinProtoVersion(_ version: Int32) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        guard portcullis_SSL_CTX_set_min_proto_version(pointer, version) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_set_min_proto_version")
        }
    }

    /// Highest protocol version to negotiate (0 = the highest OpenSSL supports).
    public func setMaxProtoVersion(_ version: Int32) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        guard portcullis_SSL_CTX_set_max_proto_version(pointer, version) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_set_max_proto_version")
        }
    }

    /// The configured minimum version (0 = none).
    public func getMinProtoVersion() -> Int32 { portcullis_SSL_CTX_get_min_proto_version(pointer) }

    /// The configured maximum version (0 = none).
    public func getMaxProtoVersion() -> Int32 { portcullis_SSL_CTX_get_max_proto_version(pointer) }

    /// The TLS <= 1.2 cipher string (`SSL_CTX_set_cipher_list`). Unknown names are skipped as long as one
    /// matches; nothing matching throws ("no cipher match"). TLS 1.0/1.1 need `@SECLEVEL=0` here on 3.0.
    public func setCipherList(_ list: String) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_set_cipher_list(pointer, list) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_set_cipher_list")
        }
    }

    /// The TLS 1.3 cipher suites, colon-separated (`SSL_CTX_set_ciphersuites`).
    public func setTLS13Ciphersuites(_ list: String) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_set_ciphersuites(pointer, list) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_set_ciphersuites")
        }
    }

    /// The key-exchange groups to offer/accept, in preference order, as an OpenSSL list
    /// ("X25519:P-256", `SSL_CTX_set1_groups_list`). An unknown name throws.
    public func setGroupsList(_ list: String) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        guard portcullis_SSL_CTX_set1_groups_list(pointer, list) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_set1_groups_list")
        }
    }

    /// `setGroupsList` for a list of group names.
    public func setGroups(_ names: [String]) throws {
        try ensureMutable()
        guard !names.isEmpty, !names.contains(where: { $0.isEmpty || $0.contains(":") }) else {
            throw SSLError.invalidArgument("groups must be a non-empty list of names without ':'")
        }
        try setGroupsList(names.joined(separator: ":"))
    }

    /// Restricts ECDHE to one curve (pyOpenSSL's `set_tmp_ecdh`). `SSL_CTX_set_tmp_ecdh` is deprecated on 3.0,
    /// where ECDH is always automatic, so this sets the group list to that curve. Accepts OpenSSL short names
    /// ("prime256v1", "secp384r1") and TLS names ("P-256", "X25519"); a curve TLS cannot use (for example
    /// "secp112r1") throws.
    public func setTmpECDH(_ curveName: String) throws {
        // TLS group names differ from the builtin-curve short names for the NIST curves.
        let aliases = ["prime256v1": "P-256", "secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"]
        try setGroups([aliases[curveName] ?? curveName])
    }

    /// Loads PEM DH parameters for DHE cipher suites from a file (`SSL_CTX_set0_tmp_dh_pkey`; pyOpenSSL's
    /// `load_tmp_dh`). A missing file or one without DH parameters throws.
    public func loadTmpDH(_ path: String) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        guard let bio = BIO_new_file(path, "r") else { throw SSLError.fromQueue("BIO_new_file") }
        defer { BIO_free(bio) }
        guard let parameters = PEM_read_bio_Parameters(bio, nil) else {
            throw SSLError.fromQueue("PEM_read_bio_Parameters")
        }
        guard EVP_PKEY_is_a(parameters, "DH") == 1 || EVP_PKEY_is_a(parameters, "DHX") == 1 else {
            EVP_PKEY_free(parameters)
            throw SSLError.invalidArgument("\(path) does not hold DH parameters")
        }
        // set0 takes ownership only on success.
        guard SSL_CTX_set0_tmp_dh_pkey(pointer, parameters) == 1 else {
            EVP_PKEY_free(parameters)
            throw SSLError.fromQueue("SSL_CTX_set0_tmp_dh_pkey")
        }
    }

    /// ORs `options` (`SSL.OP_*`) into the Context's options and returns the new mask. Cannot clear bits
    /// (use `clearOptions`).
    @discardableResult
    public func setOptions(_ options: UInt64) throws -> UInt64 {
        try ensureMutable()
        return SSL_CTX_set_options(pointer, options)
    }

    /// Clears `options` and returns the new mask.
    @discardableResult
    public func clearOptions(_ options: UInt64) throws -> UInt64 {
        try ensureMutable()
        return SSL_CTX_clear_options(pointer, options)
    }

    /// The current option mask (0x120000 on a fresh 3.0 context: NO_COMPRESSION | ENABLE_MIDDLEBOX_COMPAT).
    public func getOptions() -> UInt64 { SSL_CTX_get_options(pointer) }

    /// ORs `mode` (`SSL.MODE_*`) into the Context's modes and returns the new mask.
    @discardableResult
    public func setMode(_ mode: Int) throws -> Int {
        try ensureMutable()
        return portcullis_SSL_CTX_set_mode(pointer, mode)
    }

    /// Clears `mode` bits and returns the new mask (`SSL_CTX_clear_mode`).
    @discardableResult
    public func clearMode(_ mode: Int) throws -> Int {
        try ensureMutable()
        return portcullis_SSL_CTX_clear_mode(pointer, mode)
    }

    /// The current mode mask.
    public func getMode() -> Int { portcullis_SSL_CTX_get_mode(pointer) }

    /// Lets OpenSSL read as many bytes as the socket has, up to its record buffer, instead of exactly one
    /// record header and then its body (`SSL_CTX_set_read_ahead`; beyond pyOpenSSL). Connections created from
    /// this Context inherit it. Halves the `read` calls on a stream of records, but bytes then wait inside
    /// OpenSSL where `epoll` cannot see them: a caller on non-blocking sockets must keep calling `read` until it
    /// reports `wantRead`, never stop at the first short read.
    public func setReadAhead(_ enabled: Bool) throws {
        try ensureMutable()
        portcullis_SSL_CTX_set_read_ahead(pointer, enabled ? 1 : 0)
    }

    /// Whether read-ahead is on for new connections.
    public func getReadAhead() -> Bool { portcullis_SSL_CTX_get_read_ahead(pointer) != 0 }

    /// Enables DTLS-SRTP with a colon-separated profile list ("SRTP_AES128_CM_SHA1_80"); an unknown profile
    /// throws. (`SSL_CTX_set_tlsext_use_srtp` returns 0 on success.)
    public func setTLSExtUseSRTP(_ profiles: String) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_set_tlsext_use_srtp(pointer, profiles) == 0 else {
            throw SSLError.fromQueue("SSL_CTX_set_tlsext_use_srtp")
        }
    }
}
