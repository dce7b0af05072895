internal import COpenSSL
internal import COpenSSLShim
internal import OpenSSLCrypto

/// Server-side session resumption: session-id context, cache, lifetime and tickets.
extension Context {
    /// The session-id context (`SSL_CTX_set_session_id_context`): sessions resume only on a server whose
    /// context matches, which keeps sessions of one configuration (for example one requiring client
    /// certificates) from resuming on another. More than 32 bytes throws ("ssl session id context too long").
    public func setSessionId(_ id: some Collection<UInt8>) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        let bytes = Array(id)
        let ok = bytes.withUnsafeBufferPointer {
            SSL_CTX_set_session_id_context(pointer, $0.baseAddress, UInt32(truncatingIfNeeded: $0.count))
        }
        guard ok == 1 else { throw SSLError.fromQueue("SSL_CTX_set_session_id_context") }
    }

    /// Sets the session cache mode (`SSL.SESS_CACHE_*`) and returns the previous one.
    @discardableResult
    public func setSessionCacheMode(_ mode: Int) throws -> Int {
        try ensureMutable()
        return portcullis_SSL_CTX_set_session_cache_mode(pointer, mode)
    }

    /// The session cache mode (`SESS_CACHE_SERVER` on a fresh context).
    public func getSessionCacheMode() -> Int { portcullis_SSL_CTX_get_session_cache_mode(pointer) }

    /// Limits the internal session cache to `size` sessions (0 = unlimited) and returns the previous limit.
    @discardableResult
    public func setSessionCacheSize(_ size: Int) throws -> Int {
        try ensureMutable()
        guard size >= 0 else { throw SSLError.invalidArgument("session cache size must not be negative") }
        return portcullis_SSL_CTX_sess_set_cache_size(pointer, size)
    }

    /// The internal session cache's size limit (20480 by default).
    public func sessCacheSize() -> Int { portcullis_SSL_CTX_sess_get_cache_size(pointer) }

    /// The number of sessions currently in the internal cache (`SSL_CTX_sess_number`).
    public func sessNumber() -> Int { portcullis_SSL_CTX_sess_number(pointer) }

    /// Sets the session lifetime in seconds and returns the previous one (`SSL_CTX_set_timeout`).
    @discardableResult
    public func setTimeout(_ seconds: Int) throws -> Int {
        try ensureMutable()
        return SSL_CTX_set_timeout(pointer, seconds)
    }

    /// The session lifetime in seconds (7200 on a fresh 3.0 context).
    public func getTimeout() -> Int { SSL_CTX_get_timeout(pointer) }

    /// Turns stateless session tickets on or off (clears or sets `OP_NO_TICKET`).
    public func setSessionTicketsEnabled(_ enabled: Bool) throws {
        try ensureMutable()
        if enabled {
            SSL_CTX_clear_options(pointer, portcullis_SSL_OP_NO_TICKET)
        } else {
            SSL_CTX_set_options(pointer, portcullis_SSL_OP_NO_TICKET)
        }
    }

    /// True unless `OP_NO_TICKET` is set.
    public var sessionTicketsEnabled: Bool { SSL_CTX_get_options(pointer) & portcullis_SSL_OP_NO_TICKET == 0 }

    /// How many TLS 1.3 tickets a server sends after a full handshake (`SSL_CTX_set_num_tickets`, default 2).
    public func setNumTickets(_ count: Int) throws {
        try ensureMutable()
        guard count >= 0 else { throw SSLError.invalidArgument("ticket count must not be negative") }
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_set_num_tickets(pointer, count) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_set_num_tickets")
        }
    }

    /// The number of TLS 1.3 tickets sent after a full handshake.
    public func getNumTickets() -> Int { SSL_CTX_get_num_tickets(pointer) }
}
