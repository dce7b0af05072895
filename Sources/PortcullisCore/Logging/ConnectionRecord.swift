/// Everything the access log says about one client connection. The runtime fills it in as the connection
/// progresses and hands it to `AccessLogWriter.write(_:)` when the connection is closed (also for failed
/// handshakes and policy refusals).
///
/// One type shared by the runtime and the logging side: if the runtime needs more fields, add them here.
public struct ConnectionRecord: Sendable {
    /// Wall-clock time the connection was accepted (seconds since the Unix epoch).
    public var acceptedAt: Double
    /// `ip:port` of the client (`[v6]:port` for IPv6): the socket's peer, or on a listener with
    /// `accept_proxy` the source address of the load balancer's PROXY header.
    public var clientAddress: String
    /// Listener name.
    public var listener: String
    /// On a listener with `accept_proxy`, once a PROXY header was accepted: `ip:port` of the socket's peer
    /// (the load balancer). Nil otherwise.
    public var via: String?
    /// SNI name the client sent, if any.
    public var serverName: String?
    /// Host selected by SNI, if the handshake got that far.
    public var host: String?
    /// `TLSv1.3`, ... (nil when the handshake failed).
    public var tlsVersion: String?
    public var cipher: String?
    /// Negotiated ALPN protocol, if any.
    public var alpn: String?
    /// True when the session was resumed (session ID or ticket).
    public var sessionReused: Bool
    /// Subject of the client certificate (RFC 2253), if one was presented.
    public var clientSubject: String?
    /// Client certificate verification outcome: `none` (no certificate), `ok`, or the X509_V error text.
    public var clientVerify: String
    /// The allow-list entry that admitted the client (`cn=alice`, `email=a@example.com`, `ip=192.0.2.7`,
    /// `spki=...`); nil when no allow-list was applied (none configured, no certificate, or refused).
    public var allowedBy: String?
    /// Set when the allow-list refused the client and it was sent to `client_refused_backend` instead of
    /// being closed: the refusal reason.
    public var redirected: String?
    /// The backend the bytes went to, if one was connected.
    public var backend: String?
    /// Plaintext bytes received from the client and forwarded to the backend.
    public var bytesFromClient: UInt64
    /// Plaintext bytes received from the backend and sent to the client.
    public var bytesToClient: UInt64
    /// From accept to handshake completion; nil if it never completed.
    public var handshakeDuration: Duration?
    /// From accept to close.
    public var totalDuration: Duration
    /// Why the connection ended: a `CloseReason.code` (`completed`, `handshake_failed`, `policy_denied`, ...)
    /// or a finer token for clean ends (`client_close`, `backend_close`).
    public var closeReason: String
    /// Details for failures: the handshake error, the policy refusal reason, the connect error.
    public var error: String?

    public init(
        acceptedAt: Double, clientAddress: String, listener: String, via: String? = nil, serverName: String? = nil, host: String? = nil,
        tlsVersion: String? = nil, cipher: String? = nil, alpn: String? = nil, sessionReused: Bool = false,
        clientSubject: String? = nil, clientVerify: String = "none", backend: String? = nil,
        bytesFromClient: UInt64 = 0, bytesToClient: UInt64 = 0, handshakeDuration: Duration? = nil,
        totalDuration: Duration = .zero, closeReason: String, error: String? = nil
    ) {
        self.acceptedAt = acceptedAt
        self.clientAddress = clientAddress
        self.listener = listener
        self.via = via
        self.serverName = serverName
        self.host = host
        self.tlsVersion = tlsVersion
        self.cipher = cipher
        self.alpn = alpn
        self.sessionReused = sessionReused
        self.clientSubject = clientSubject
        self.clientVerify = clientVerify
        self.backend = backend
        self.bytesFromClient = bytesFromClient
        self.bytesToClient = bytesToClient
        self.handshakeDuration = handshakeDuration
        self.totalDuration = totalDuration
        self.closeReason = closeReason
        self.error = error
    }
}
