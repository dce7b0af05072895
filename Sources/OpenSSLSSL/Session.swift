internal import COpenSSL
internal import OpenSSLCrypto

/// A TLS session that can be offered for resumption (pyOpenSSL's `SSL.Session`). Owns one reference to an
/// `SSL_SESSION *` and remembers the Context of the Connection it came from: `Connection.setSession` only
/// accepts it on a Connection of that same Context.
///
/// Sessions are reference-counted and internally locked by OpenSSL, so one may be offered by connections
/// on several threads (for example an upstream session cache in a proxy).
public final class Session: @unchecked Sendable {
    /// The owned `SSL_SESSION *` reference.
    package let pointer: OpaquePointer
    /// The Context of the Connection this session was taken from.
    public let context: Context

    /// Takes ownership of one reference to `pointer`.
    package init(owning pointer: OpaquePointer, context: Context) {
        self.pointer = pointer
        self.context = context
    }

    deinit { SSL_SESSION_free(pointer) }

    /// True when the session can still be used to resume (`SSL_SESSION_is_resumable`). A TLS 1.3 client
    /// session becomes resumable only after the NewSessionTicket was read.
    public var isResumable: Bool { SSL_SESSION_is_resumable(pointer) == 1 }

    /// The session id (empty for TLS 1.3 ticket sessions on the client until a ticket arrived).
    public var id: [UInt8] {
        var length: UInt32 = 0
        guard let bytes = SSL_SESSION_get_id(pointer, &length) else { return [] }
        return Array(UnsafeBufferPointer(start: bytes, count: Int(length)))
    }

    /// The protocol version the session was negotiated with (`SSL.TLS1_3_VERSION`, ...).
    public var protocolVersion: Int32 { SSL_SESSION_get_protocol_version(pointer) }

    /// True when the session carries a ticket from the server (`SSL_SESSION_has_ticket`).
    public var hasTicket: Bool { SSL_SESSION_has_ticket(pointer) == 1 }
}

extension Connection {
    /// The current session (`get_session`, `SSL_get1_session`), or nil before one exists.
    public func getSession() -> Session? {
        guard let session = SSL_get1_session(pointer) else { return nil }
        return Session(owning: session, context: context)
    }

    /// Offers `session` for resumption on the next handshake (`set_session`). A session taken from a
    /// Connection on another Context is refused with `invalidArgument` (pyOpenSSL 26.3.0).
    public func setSession(_ session: Session) throws {
        OpenSSLErrorQueue.clear()
        guard session.context === context else {
            throw SSLError.invalidArgument("session was created from a different Context")
        }
        guard SSL_set_session(pointer, session.pointer) == 1 else { throw SSLError.fromQueue() }
    }

    /// True when the last handshake resumed a session instead of running a full one (`SSL_session_reused`).
    public func sessionReused() -> Bool { SSL_session_reused(pointer) == 1 }
}
