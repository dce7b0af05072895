internal import COpenSSL
public import OpenSSLCrypto

/// A failure of the `OpenSSLSSL` module: pyOpenSSL's `SSL.Error` family as one enum callers can switch on.
///
/// `wantRead`/`wantWrite` are not failures: retry the same call when the transport is ready.
public enum SSLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libssl failed; carries the drained error queue.
    case openSSL([OpenSSLErrorEntry])
    /// `SSL_ERROR_WANT_READ`: retry after more transport bytes arrive.
    case wantRead
    /// `SSL_ERROR_WANT_WRITE`: retry when the transport is writable.
    case wantWrite
    /// `SSL_ERROR_WANT_X509_LOOKUP`.
    case wantX509Lookup
    /// The peer sent close_notify.
    case zeroReturn
    /// A transport error: `(errno, message)`; EOF without close_notify is `sysCall(-1, "Unexpected EOF")`.
    case sysCall(errno: Int32, message: String)
    /// The caller passed something invalid (pyOpenSSL's `ValueError`/`TypeError`).
    case invalidArgument(String)
    /// A mutating call on a `Context` that has already created a `Connection`.
    case contextInUse
    /// OpenSSL 3.0 on this system cannot back the request; the message says why.
    case unsupported(String)
    /// A memory-BIO call on a socket `Connection`, or the reverse.
    case wrongTransport(String)
    /// `Connection.sendAll` stopped after `sent` bytes had been accepted by OpenSSL; `cause` says why.
    /// Unlike pyOpenSSL (issue #176) the count is not lost: resume with the bytes from offset `sent`.
    indirect case incompleteSend(sent: Int, cause: SSLError)

    /// The error pyOpenSSL raises for EOF without close_notify.
    public static let unexpectedEOF = SSLError.sysCall(errno: -1, message: "Unexpected EOF")

    /// `.invalidArgument(message)` for an argument check that fails before OpenSSL runs. It clears the thread's
    /// error queue, so the throw leaves no earlier call's entries behind, at no cost on the success path.
    package static func argument(_ message: String) -> SSLError {
        OpenSSLErrorQueue.clear()
        return .invalidArgument(message)
    }

    /// Drains the thread's error queue into an `.openSSL` error. When the queue is empty (OpenSSL failed
    /// without saying why), the entry names the call that failed so the error is never blank.
    package static func fromQueue(_ call: StaticString = #function) -> SSLError {
        .openSSL(OpenSSLErrorQueue.drainForError(call))
    }

    public var description: String {
        switch self {
        case .openSSL(let entries): return OpenSSLErrorQueue.describe(entries)
        case .wantRead: return "want read"
        case .wantWrite: return "want write"
        case .wantX509Lookup: return "want X509 lookup"
        case .zeroReturn: return "the peer closed the TLS session (close_notify)"
        case .sysCall(let errno, let message): return "system call error \(errno): \(message)"
        case .invalidArgument(let message): return "invalid argument: \(message)"
        case .contextInUse:
            return "Context has already been used to create a Connection, it cannot be mutated again"
        case .unsupported(let message): return "unsupported: \(message)"
        case .wrongTransport(let message): return message
        case .incompleteSend(let sent, let cause): return "sendAll stopped after \(sent) bytes: \(cause)"
        }
    }

    /// The queue entries, or `[]` for the other cases.
    public var entries: [OpenSSLErrorEntry] {
        switch self {
        case .openSSL(let entries): return entries
        case .incompleteSend(_, let cause): return cause.entries
        default: return []
        }
    }
}
