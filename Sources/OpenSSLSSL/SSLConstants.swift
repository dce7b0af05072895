internal import COpenSSL
internal import COpenSSLShim

/// pyOpenSSL's `OpenSSL.SSL` module constants, spelled as in pyOpenSSL, with OpenSSL 3.0's raw values.
///
/// Types follow the C API: verify modes, versions, shutdown bits and info-callback bits are `Int32` (C `int`),
/// modes and session-cache modes are `Int` (C `long`), options are `UInt64` (`uint64_t` on 3.0).
extension SSL {
    // MARK: Verify modes (Context.setVerify / Connection.setVerify)
    public static let VERIFY_NONE: Int32 = COpenSSL.SSL_VERIFY_NONE
    public static let VERIFY_PEER: Int32 = COpenSSL.SSL_VERIFY_PEER
    public static let VERIFY_FAIL_IF_NO_PEER_CERT: Int32 = COpenSSL.SSL_VERIFY_FAIL_IF_NO_PEER_CERT
    public static let VERIFY_CLIENT_ONCE: Int32 = COpenSSL.SSL_VERIFY_CLIENT_ONCE
    public static let VERIFY_POST_HANDSHAKE: Int32 = COpenSSL.SSL_VERIFY_POST_HANDSHAKE

    // MARK: Protocol versions (setMinProtoVersion / setMaxProtoVersion; 0 = no limit)
    public static let SSL3_VERSION: Int32 = COpenSSL.SSL3_VERSION
    public static let TLS1_VERSION: Int32 = COpenSSL.TLS1_VERSION
    public static let TLS1_1_VERSION: Int32 = COpenSSL.TLS1_1_VERSION
    public static let TLS1_2_VERSION: Int32 = COpenSSL.TLS1_2_VERSION
    public static let TLS1_3_VERSION: Int32 = COpenSSL.TLS1_3_VERSION
    public static let DTLS1_VERSION: Int32 = COpenSSL.DTLS1_VERSION
    public static let DTLS1_2_VERSION: Int32 = COpenSSL.DTLS1_2_VERSION

    // MARK: Options (64-bit on OpenSSL 3.0)
    /// A no-op on OpenSSL 3.0 (there is no SSLv2); kept for source compatibility.
    public static let OP_NO_SSLv2: UInt64 = portcullis_SSL_OP_NO_SSLv2
    public static let OP_NO_SSLv3: UInt64 = portcullis_SSL_OP_NO_SSLv3
    public static let OP_NO_TLSv1: UInt64 = portcullis_SSL_OP_NO_TLSv1
    public static let OP_NO_TLSv1_1: UInt64 = portcullis_SSL_OP_NO_TLSv1_1
    public static let OP_NO_TLSv1_2: UInt64 = portcullis_SSL_OP_NO_TLSv1_2
    public static let OP_NO_TLSv1_3: UInt64 = portcullis_SSL_OP_NO_TLSv1_3
    public static let OP_NO_DTLSv1: UInt64 = portcullis_SSL_OP_NO_DTLSv1
    public static let OP_NO_DTLSv1_2: UInt64 = portcullis_SSL_OP_NO_DTLSv1_2
    public static let OP_ALL: UInt64 = portcullis_SSL_OP_ALL
    public static let OP_CIPHER_SERVER_PREFERENCE: UInt64 = portcullis_SSL_OP_CIPHER_SERVER_PREFERENCE
    public static let OP_NO_TICKET: UInt64 = portcullis_SSL_OP_NO_TICKET
    public static let OP_NO_COMPRESSION: UInt64 = portcullis_SSL_OP_NO_COMPRESSION
    public static let OP_NO_QUERY_MTU: UInt64 = portcullis_SSL_OP_NO_QUERY_MTU
    public static let OP_COOKIE_EXCHANGE: UInt64 = portcullis_SSL_OP_COOKIE_EXCHANGE
    public static let OP_NO_RENEGOTIATION: UInt64 = portcullis_SSL_OP_NO_RENEGOTIATION
    public static let OP_IGNORE_UNEXPECTED_EOF: UInt64 = portcullis_SSL_OP_IGNORE_UNEXPECTED_EOF
    public static let OP_LEGACY_SERVER_CONNECT: UInt64 = portcullis_SSL_OP_LEGACY_SERVER_CONNECT
    public static let OP_DONT_INSERT_EMPTY_FRAGMENTS: UInt64 = portcullis_SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS
    public static let OP_TLS_ROLLBACK_BUG: UInt64 = portcullis_SSL_OP_TLS_ROLLBACK_BUG
    /// Kernel TLS offload (fd transports only). This machine's kernel has no `tls` module, so OpenSSL silently
    /// falls back to userspace: check per connection whether offload is active.
    public static let OP_ENABLE_KTLS: UInt64 = portcullis_SSL_OP_ENABLE_KTLS
    public static let OP_NO_EXTENDED_MASTER_SECRET: UInt64 = portcullis_SSL_OP_NO_EXTENDED_MASTER_SECRET
    public static let OP_CLEANSE_PLAINTEXT: UInt64 = portcullis_SSL_OP_CLEANSE_PLAINTEXT
    public static let OP_TLSEXT_PADDING: UInt64 = portcullis_SSL_OP_TLSEXT_PADDING
    public static let OP_SAFARI_ECDHE_ECDSA_BUG: UInt64 = portcullis_SSL_OP_SAFARI_ECDHE_ECDSA_BUG
    public static let OP_ALLOW_CLIENT_RENEGOTIATION: UInt64 = portcullis_SSL_OP_ALLOW_CLIENT_RENEGOTIATION
    public static let OP_DISABLE_TLSEXT_CA_NAMES: UInt64 = portcullis_SSL_OP_DISABLE_TLSEXT_CA_NAMES
    public static let OP_ALLOW_NO_DHE_KEX: UInt64 = portcullis_SSL_OP_ALLOW_NO_DHE_KEX
    public static let OP_CISCO_ANYCONNECT: UInt64 = portcullis_SSL_OP_CISCO_ANYCONNECT
    public static let OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION: UInt64 =
        portcullis_SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION
    public static let OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION: UInt64 = portcullis_SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION
    public static let OP_NO_ENCRYPT_THEN_MAC: UInt64 = portcullis_SSL_OP_NO_ENCRYPT_THEN_MAC
    public static let OP_ENABLE_MIDDLEBOX_COMPAT: UInt64 = portcullis_SSL_OP_ENABLE_MIDDLEBOX_COMPAT
    public static let OP_PRIORITIZE_CHACHA: UInt64 = portcullis_SSL_OP_PRIORITIZE_CHACHA
    public static let OP_NO_ANTI_REPLAY: UInt64 = portcullis_SSL_OP_NO_ANTI_REPLAY
    public static let OP_CRYPTOPRO_TLSEXT_BUG: UInt64 = portcullis_SSL_OP_CRYPTOPRO_TLSEXT_BUG
    // Historic bug-workaround flags: OpenSSL 3.0 itself defines them as 0, so setting them does nothing.
    public static let OP_SINGLE_DH_USE: UInt64 = 0
    public static let OP_SINGLE_ECDH_USE: UInt64 = 0
    public static let OP_EPHEMERAL_RSA: UInt64 = 0
    public static let OP_MICROSOFT_SESS_ID_BUG: UInt64 = 0
    public static let OP_NETSCAPE_CHALLENGE_BUG: UInt64 = 0
    public static let OP_NETSCAPE_REUSE_CIPHER_CHANGE_BUG: UInt64 = 0
    public static let OP_SSLREF2_REUSE_CERT_TYPE_BUG: UInt64 = 0
    public static let OP_MICROSOFT_BIG_SSLV3_BUFFER: UInt64 = 0
    public static let OP_MSIE_SSLV2_RSA_PADDING: UInt64 = 0
    public static let OP_SSLEAY_080_CLIENT_DH_BUG: UInt64 = 0
    public static let OP_TLS_D5_BUG: UInt64 = 0
    public static let OP_TLS_BLOCK_PADDING_BUG: UInt64 = 0
    public static let OP_PKCS1_CHECK_1: UInt64 = 0
    public static let OP_PKCS1_CHECK_2: UInt64 = 0
    public static let OP_NETSCAPE_CA_DN_BUG: UInt64 = 0
    public static let OP_NETSCAPE_DEMO_CIPHER_CHANGE_BUG: UInt64 = 0

    // MARK: Modes
    public static let MODE_ENABLE_PARTIAL_WRITE = Int(COpenSSL.SSL_MODE_ENABLE_PARTIAL_WRITE)
    public static let MODE_ACCEPT_MOVING_WRITE_BUFFER = Int(COpenSSL.SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER)
    public static let MODE_AUTO_RETRY = Int(COpenSSL.SSL_MODE_AUTO_RETRY)
    public static let MODE_NO_AUTO_CHAIN = Int(COpenSSL.SSL_MODE_NO_AUTO_CHAIN)
    public static let MODE_RELEASE_BUFFERS = Int(COpenSSL.SSL_MODE_RELEASE_BUFFERS)
    public static let MODE_SEND_FALLBACK_SCSV = Int(COpenSSL.SSL_MODE_SEND_FALLBACK_SCSV)
    public static let MODE_ASYNC = Int(COpenSSL.SSL_MODE_ASYNC)

    // MARK: Session cache modes
    public static let SESS_CACHE_OFF = Int(COpenSSL.SSL_SESS_CACHE_OFF)
    public static let SESS_CACHE_CLIENT = Int(COpenSSL.SSL_SESS_CACHE_CLIENT)
    public static let SESS_CACHE_SERVER = Int(COpenSSL.SSL_SESS_CACHE_SERVER)
    public static let SESS_CACHE_BOTH = Int(COpenSSL.SSL_SESS_CACHE_CLIENT | COpenSSL.SSL_SESS_CACHE_SERVER)
    public static let SESS_CACHE_NO_AUTO_CLEAR = Int(COpenSSL.SSL_SESS_CACHE_NO_AUTO_CLEAR)
    public static let SESS_CACHE_NO_INTERNAL_LOOKUP = Int(COpenSSL.SSL_SESS_CACHE_NO_INTERNAL_LOOKUP)
    public static let SESS_CACHE_NO_INTERNAL_STORE = Int(COpenSSL.SSL_SESS_CACHE_NO_INTERNAL_STORE)
    public static let SESS_CACHE_NO_INTERNAL = Int(COpenSSL.SSL_SESS_CACHE_NO_INTERNAL_LOOKUP | COpenSSL.SSL_SESS_CACHE_NO_INTERNAL_STORE)

    // MARK: Info-callback state and "where" bits
    // SSL_ST_INIT/BEFORE/OK/RENEGOTIATE are gone from OpenSSL >= 1.1.0 and deliberately not defined.
    public static let SSL_ST_CONNECT: Int32 = COpenSSL.SSL_ST_CONNECT
    public static let SSL_ST_ACCEPT: Int32 = COpenSSL.SSL_ST_ACCEPT
    public static let SSL_ST_MASK: Int32 = COpenSSL.SSL_ST_MASK
    public static let SSL_CB_LOOP: Int32 = COpenSSL.SSL_CB_LOOP
    public static let SSL_CB_EXIT: Int32 = COpenSSL.SSL_CB_EXIT
    public static let SSL_CB_READ: Int32 = COpenSSL.SSL_CB_READ
    public static let SSL_CB_WRITE: Int32 = COpenSSL.SSL_CB_WRITE
    public static let SSL_CB_ALERT: Int32 = COpenSSL.SSL_CB_ALERT
    public static let SSL_CB_READ_ALERT: Int32 = COpenSSL.SSL_CB_ALERT | COpenSSL.SSL_CB_READ
    public static let SSL_CB_WRITE_ALERT: Int32 = COpenSSL.SSL_CB_ALERT | COpenSSL.SSL_CB_WRITE
    public static let SSL_CB_ACCEPT_LOOP: Int32 = COpenSSL.SSL_ST_ACCEPT | COpenSSL.SSL_CB_LOOP
    public static let SSL_CB_ACCEPT_EXIT: Int32 = COpenSSL.SSL_ST_ACCEPT | COpenSSL.SSL_CB_EXIT
    public static let SSL_CB_CONNECT_LOOP: Int32 = COpenSSL.SSL_ST_CONNECT | COpenSSL.SSL_CB_LOOP
    public static let SSL_CB_CONNECT_EXIT: Int32 = COpenSSL.SSL_ST_CONNECT | COpenSSL.SSL_CB_EXIT
    public static let SSL_CB_HANDSHAKE_START: Int32 = COpenSSL.SSL_CB_HANDSHAKE_START
    public static let SSL_CB_HANDSHAKE_DONE: Int32 = COpenSSL.SSL_CB_HANDSHAKE_DONE

    // MARK: Shutdown state bits (Connection.getShutdown / setShutdown)
    public static let SENT_SHUTDOWN: Int32 = COpenSSL.SSL_SENT_SHUTDOWN
    public static let RECEIVED_SHUTDOWN: Int32 = COpenSSL.SSL_RECEIVED_SHUTDOWN

    // MARK: ALPN
    /// What an ALPN select callback returns to continue the handshake without ALPN (pyOpenSSL's sentinel).
    public static let NO_OVERLAPPING_PROTOCOLS = ALPNSelection.noOverlap
}
