public import OpenSSLCrypto

/// A failure of the `OpenSSLRand` module (pyOpenSSL's `rand.Error` plus its `ValueError` cases).
public enum RandError: Error, Sendable, CustomStringConvertible {
    /// libcrypto failed; carries the drained error queue.
    case openSSL([OpenSSLErrorEntry])
    /// The caller passed a value OpenSSL was never asked to handle (pyOpenSSL's `ValueError`).
    case invalidArgument(String)
    /// OpenSSL 3.0 on this system cannot back the requested function; the message says why.
    case unsupported(String)

    /// Drains the thread's error queue into an `.openSSL` error that is never blank.
    package static func fromQueue(_ call: StaticString = #function) -> RandError {
        .openSSL(OpenSSLErrorQueue.drainForError(call))
    }

    public var description: String {
        switch self {
        case .openSSL(let entries): return OpenSSLErrorQueue.describe(entries)
        case .invalidArgument(let message): return "invalid argument: \(message)"
        case .unsupported(let message): return "unsupported: \(message)"
        }
    }

    /// The queue entries, or `[]` for argument and unsupported errors.
    public var entries: [OpenSSLErrorEntry] {
        if case .openSSL(let entries) = self { return entries }
        return []
    }
}
