/// How a connection ended, as the runtime classifies it. The access log gets `code` as its `close` field
/// and `detail` as its `error` field (`ConnectionRecord.closeReason` / `.error`).
public enum CloseReason: Sendable, Equatable, CustomStringConvertible {
    /// Both directions finished cleanly: the client's close_notify went to the backend as a FIN, the
    /// backend's FIN to the client as close_notify. Logged as `client_close` or `backend_close`, after the
    /// side that finished first.
    case completed
    /// The TLS handshake failed (alert, protocol error, SNI refusal, callback error).
    case handshakeFailed(String)
    /// The handshake did not complete within the handshake timeout.
    case handshakeTimeout
    /// The client closed or reset the TCP connection before the handshake completed.
    case clientClosedDuringHandshake
    /// The handshake completed but the table had no host for the connection.
    case noHost
    /// The host's client-certificate policy refused the client; nothing reached a backend.
    case policyDenied(String)
    /// No backend accepted a connection (refused, unreachable or timed out); the detail is the last error.
    case backendUnavailable(String)
    /// The client reset the connection, or writing to it failed; the backend was reset too.
    case clientReset(String)
    /// The client's TCP stream ended without close_notify (possible truncation); the backend was reset so
    /// it cannot take the stream as complete.
    case clientTruncated
    /// The backend reset the connection, or writing to it failed; the client connection was reset too.
    case backendReset(String)
    /// A TLS error after the handshake (bad record MAC, fatal alert); the backend was reset.
    case tlsError(String)
    /// Nothing moved in either direction for the idle timeout.
    case idleTimeout
    /// Still open when the drain deadline passed; both sides were reset.
    case drainDeadline
    /// The runtime could not serve the connection (memory, descriptors, internal failure).
    case internalError(String)
    /// The listener accepts PROXY headers (`accept_proxy`) and the connection's did not parse, or did not
    /// arrive complete in time; nothing was read past it and no handshake started.
    case proxyHeaderInvalid(String)
    /// The listener accepts PROXY headers and the peer is not in its `proxy_sources`; refused (reset)
    /// before a byte was read. The detail names the peer.
    case proxySourceDenied(String)
    /// The client had already closed when its handshake completed, with no application byte sent (a health
    /// check, `openssl s_client < /dev/null`): finished without opening a backend connection.
    case clientGone
    /// The client (by the PROXY header's address) already had `max_connections_per_client` open.
    case clientLimit(String, maximum: Int)

    /// The stable token for the access log's `close` field.
    public var code: String {
        switch self {
        case .completed: return "completed"
        case .handshakeFailed: return "handshake_failed"
        case .handshakeTimeout: return "handshake_timeout"
        case .clientClosedDuringHandshake: return "handshake_aborted"
        case .noHost: return "no_host"
        case .policyDenied: return "policy_denied"
        case .backendUnavailable: return "backend_unavailable"
        case .clientReset: return "client_reset"
        case .clientTruncated: return "truncated"
        case .backendReset: return "backend_reset"
        case .tlsError: return "tls_error"
        case .idleTimeout: return "idle_timeout"
        case .drainDeadline: return "drain_deadline"
        case .internalError: return "internal_error"
        case .proxyHeaderInvalid: return "proxy_header_invalid"
        case .proxySourceDenied: return "proxy_source_denied"
        case .clientGone: return "client_gone"
        case .clientLimit: return "client_limit"
        }
    }

    /// The error text, for reasons that carry one.
    public var detail: String? {
        switch self {
        case .handshakeFailed(let text), .policyDenied(let text), .backendUnavailable(let text),
             .clientReset(let text), .backendReset(let text), .tlsError(let text), .internalError(let text),
             .proxyHeaderInvalid(let text):
            return text
        case .proxySourceDenied(let peer):
            return "\(peer) is not in the listener's proxy_sources"
        case .clientGone:
            return "the client closed right after the handshake without sending data; no backend connection was opened"
        case .clientClosedDuringHandshake:
            return "the client closed the connection during the handshake"
        case .clientTruncated:
            return "the client closed TCP without close_notify"
        case .clientLimit(let client, let maximum):
            return "\(client) already has max_connections_per_client (\(maximum)) open"
        default:
            return nil
        }
    }

    public var description: String {
        if let detail { return "\(code): \(detail)" }
        return code
    }
}
