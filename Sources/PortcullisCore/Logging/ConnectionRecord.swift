/// Everything the access log says about one client connection, handed to the access-log sink once the
/// connection is over (refused, failed or finished). Built on the worker thread; the strings are made once per
/// connection, at its end.
///
/// One type shared by the runtime and the access log (the runtime helper's design, kept here in Logging/
/// after both sides had a copy): add fields here rather than defining a second record.
public struct ConnectionRecord: Sendable, Equatable {
    /// Unique within the process: the worker index in the top 16 bits, a per-worker counter below.
    public var id: UInt64
    /// The worker thread that served the connection.
    public var worker: Int
    /// Wall-clock time of `accept`, nanoseconds since the Unix epoch.
    public var acceptedAtUnixNanoseconds: Int64
    /// The client's address (`192.0.2.7:51234`, `[2001:db8::7]:51234`).
    public var clientAddress: String
    /// The listener's name.
    public var listener: String
    /// The SNI name the client sent, if any.
    public var serverName: String?
    /// The host the connection was routed to (its `[[host]] name`), once known.
    public var host: String?
    /// Negotiated TLS version (`TLSv1.3`), after a completed handshake.
    public var tlsVersion: String?
    /// Negotiated cipher (`TLS_AES_128_GCM_SHA256`).
    public var cipher: String?
    /// Negotiated ALPN protocol (`h2`).
    public var alpn: String?
    /// Whether the TLS session was resumed (by session id or ticket).
    public var sessionResumed: Bool
    /// The client certificate's subject (RFC 2253 / OpenSSL one-line form), when the client sent one.
    public var clientCertificateSubject: String?
    /// The X509_V_* verification result of the client certificate (0 = ok); nil without a certificate.
    public var clientVerifyResult: Int?
    /// The backend the connection was relayed to (the last one tried when none answered).
    public var backend: String?
    /// Plaintext bytes received from the client and forwarded to the backend (PROXY header excluded).
    public var bytesFromClient: UInt64
    /// Plaintext bytes received from the backend and forwarded to the client.
    public var bytesToClient: UInt64
    /// From accept to the completed handshake; nil when the handshake did not complete.
    public var handshakeDuration: Duration?
    /// From accept to close.
    public var totalDuration: Duration
    /// Why and how the connection ended.
    public var closeReason: CloseReason

    public init(
        id: UInt64, worker: Int, acceptedAtUnixNanoseconds: Int64, clientAddress: String, listener: String,
        serverName: String? = nil, host: String? = nil, tlsVersion: String? = nil, cipher: String? = nil,
        alpn: String? = nil, sessionResumed: Bool = false, clientCertificateSubject: String? = nil,
        clientVerifyResult: Int? = nil, backend: String? = nil, bytesFromClient: UInt64 = 0, bytesToClient: UInt64 = 0,
        handshakeDuration: Duration? = nil, totalDuration: Duration = .zero, closeReason: CloseReason
    ) {
        self.id = id
        self.worker = worker
        self.acceptedAtUnixNanoseconds = acceptedAtUnixNanoseconds
        self.clientAddress = clientAddress
        self.listener = listener
        self.serverName = serverName
        self.host = host
        self.tlsVersion = tlsVersion
        self.cipher = cipher
        self.alpn = alpn
        self.sessionResumed = sessionResumed
        self.clientCertificateSubject = clientCertificateSubject
        self.clientVerifyResult = clientVerifyResult
        self.backend = backend
        self.bytesFromClient = bytesFromClient
        self.bytesToClient = bytesToClient
        self.handshakeDuration = handshakeDuration
        self.totalDuration = totalDuration
        self.closeReason = closeReason
    }
}

/// How a connection ended. `code` is a stable snake_case token for logs and tests; `detail` adds the
/// specific error text when there is one.
public enum CloseReason: Sendable, Equatable, CustomStringConvertible {
    /// Both directions finished cleanly: client close_notify forwarded as FIN, backend FIN as close_notify.
    case completed
    /// The TLS handshake failed (alert, protocol error, SNI refusal, callback error).
    case handshakeFailed(String)
    /// The handshake did not complete within the handshake timeout.
    case handshakeTimeout
    /// The client closed or reset the TCP connection before the handshake completed.
    case clientClosedDuringHandshake
    /// The handshake completed but the routing table had no host for the connection.
    case noHost
    /// The host's client-certificate policy refused the client (nothing reached a backend).
    case policyDenied(String)
    /// No backend accepted a connection (refused, unreachable or timed out); the detail is the last error.
    case backendUnavailable(String)
    /// The client reset the connection (or a write to it failed); the backend was reset too.
    case clientReset(String)
    /// The client's TCP stream ended without close_notify (possible truncation); the backend was reset so it
    /// does not take the stream as complete.
    case clientTruncated
    /// The backend reset the connection; the client connection was reset too.
    case backendReset(String)
    /// A TLS error after the handshake (bad record, alert); the backend was reset.
    case tlsError(String)
    /// Nothing moved in either direction for the idle timeout.
    case idleTimeout
    /// Still open when the drain deadline of a shutdown passed; both sides were reset.
    case drainDeadline
    /// The runtime could not serve the connection (memory, descriptor or internal failure).
    case internalError(String)

    /// Stable token: `completed`, `handshake_failed`, `handshake_timeout`, ...
    public var code: String {
        switch self {
        case .completed: return "completed"
        case .handshakeFailed: return "handshake_failed"
        case .handshakeTimeout: return "handshake_timeout"
        case .clientClosedDuringHandshake: return "client_closed_during_handshake"
        case .noHost: return "no_host"
        case .policyDenied: return "policy_denied"
        case .backendUnavailable: return "backend_unavailable"
        case .clientReset: return "client_reset"
        case .clientTruncated: return "client_truncated"
        case .backendReset: return "backend_reset"
        case .tlsError: return "tls_error"
        case .idleTimeout: return "idle_timeout"
        case .drainDeadline: return "drain_deadline"
        case .internalError: return "internal_error"
        }
    }

    /// The error text, when the reason carries one.
    public var detail: String? {
        switch self {
        case .handshakeFailed(let text), .policyDenied(let text), .backendUnavailable(let text),
             .clientReset(let text), .backendReset(let text), .tlsError(let text), .internalError(let text):
            return text
        default:
            return nil
        }
    }

    public var description: String {
        if let detail { return "\(code): \(detail)" }
        return code
    }
}
