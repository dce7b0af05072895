internal import COpenSSL

/// One entry of OpenSSL's per-thread error queue, as pyOpenSSL reports it: `(library, function, reason)`.
///
/// On OpenSSL 3.0 `function` is always empty (for example `("PEM routines", "", "bad decrypt")`).
public struct OpenSSLErrorEntry: Sendable, Hashable, CustomStringConvertible {
    public let library: String
    public let function: String
    public let reason: String
    /// The packed `ERR_get_error()` code, for callers that want `ERR_GET_REASON`-style matching.
    public let code: UInt
    /// The free-text detail OpenSSL attached to the entry (`ERR_TXT_STRING`), for example
    /// `"Global default library context, Algorithm (RC2-40-CBC : 0), Properties ()"`; empty when none.
    public let data: String

    public init(library: String, function: String, reason: String, code: UInt = 0, data: String = "") {
        self.library = library
        self.function = function
        self.reason = reason
        self.code = code
        self.data = data
    }

    public var description: String { "(\(library), \(function), \(reason))" }
}

/// The calling thread's OpenSSL error queue.
///
/// Contract used by every wrapper call: clear before calling OpenSSL, drain into the thrown error after a
/// failure, so that nothing stale leaks into the next call on this thread.
package enum OpenSSLErrorQueue {
    /// Pops every entry, oldest first. After it returns, `ERR_peek_error() == 0`.
    package static func drain() -> [OpenSSLErrorEntry] {
        var entries: [OpenSSLErrorEntry] = []
        while true {
            var data: UnsafePointer<CChar>?
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 { break }
            let text = (flags & ERR_TXT_STRING) != 0 ? data.map { String(cString: $0) } ?? "" : ""
            entries.append(entry(for: code, data: text))
        }
        return entries
    }

    /// Discards whatever an earlier call left behind.
    package static func clear() {
        ERR_clear_error()
    }

    /// Pops every entry like `drain()`, but never returns an empty list: when OpenSSL failed without saying
    /// why, the one entry names the call that failed. Every module's `fromQueue()` builds on this.
    package static func drainForError(_ call: StaticString) -> [OpenSSLErrorEntry] {
        let entries = drain()
        if entries.isEmpty {
            return [OpenSSLErrorEntry(library: "", function: "\(call)", reason: "failed without an OpenSSL error")]
        }
        return entries
    }

    /// "OpenSSL error: (lib, func, reason), ..." — the text every module's error gives for queue entries.
    package static func describe(_ entries: [OpenSSLErrorEntry]) -> String {
        "OpenSSL error: " + entries.map(\.description).joined(separator: ", ")
    }

    /// True when the queue holds nothing.
    package static var isEmpty: Bool { ERR_peek_error() == 0 }

    private static func entry(for code: UInt, data: String) -> OpenSSLErrorEntry {
        let library = ERR_lib_error_string(code).map { String(cString: $0) } ?? ""
        let function = ERR_func_error_string(code).map { String(cString: $0) } ?? ""
        let reason: String
        if let text = ERR_reason_error_string(code) {
            reason = String(cString: text)
        } else {
            reason = "reason(\(code & 0x7FFFFF))"
        }
        return OpenSSLErrorEntry(library: library, function: function, reason: reason, code: code, data: data)
    }
}

/// A failure of the `OpenSSLCrypto` module (pyOpenSSL's `crypto.Error` and its `ValueError`/`TypeError` cases).
public enum CryptoError: Error, Sendable, CustomStringConvertible {
    /// libcrypto failed; carries the drained error queue.
    case openSSL([OpenSSLErrorEntry])
    /// The caller passed something OpenSSL was never asked to handle (pyOpenSSL's `ValueError`/`TypeError`).
    case invalidArgument(String)
    /// An index outside the valid range (pyOpenSSL's `IndexError`).
    case indexOutOfRange(String)
    /// OpenSSL 3.0 on this system cannot back the requested feature; the message says why.
    case unsupported(String)

    /// Drains the thread's error queue into an `.openSSL` error. When the queue is empty (OpenSSL failed
    /// without saying why), the entry names the call that failed so the error is never blank.
    package static func fromQueue(_ call: StaticString = #function) -> CryptoError {
        .openSSL(OpenSSLErrorQueue.drainForError(call))
    }

    public var description: String {
        switch self {
        case .openSSL(let entries): return OpenSSLErrorQueue.describe(entries)
        case .invalidArgument(let message): return "invalid argument: \(message)"
        case .indexOutOfRange(let message): return "index out of range: \(message)"
        case .unsupported(let message): return "unsupported: \(message)"
        }
    }

    /// The queue entries, or `[]` for argument errors.
    public var entries: [OpenSSLErrorEntry] {
        if case .openSSL(let entries) = self { return entries }
        return []
    }
}
