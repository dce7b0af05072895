package import OpenSSLCrypto

extension SSLError {
    /// Drains the calling thread's OpenSSL error queue into an `.openSSL` error (the SSL counterpart of
    /// `CryptoError.fromQueue()`). When OpenSSL failed without queuing anything, the single entry names the
    /// failing call so the error is never blank. After it returns the queue is empty.
    package static func drainingQueue(_ call: StaticString = #function) -> SSLError {
        let entries = OpenSSLErrorQueue.drain()
        if entries.isEmpty {
            return .openSSL([OpenSSLErrorEntry(library: "", function: "\(call)", reason: "failed without an OpenSSL error")])
        }
        return .openSSL(entries)
    }

    /// Re-expresses a `CryptoError` from a shared helper as the SSL module's error, keeping the queue entries.
    package static func from(_ error: CryptoError) -> SSLError {
        switch error {
        case .openSSL(let entries): return .openSSL(entries)
        case .invalidArgument(let message), .indexOutOfRange(let message): return .invalidArgument(message)
        case .unsupported(let message): return .unsupported(message)
        }
    }
}
