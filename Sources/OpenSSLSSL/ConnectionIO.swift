internal import COpenSSL
internal import COpenSSLShim
internal import Glibc
internal import OpenSSLCrypto

// The non-throwing steps are the hot path: no allocation, no closure, no existential unless something failed.
// The throwing, pyOpenSSL-shaped API is a thin layer over them.
//
// Callback errors: an error a Swift callback threw while OpenSSL ran is returned (`.failed(error)`) or thrown
// unchanged, before anything OpenSSL reported. From then on the connection is dead: every later step fails
// with that same error without calling OpenSSL, so a handshake a callback refused can never continue.

extension Connection {
    // MARK: Non-throwing steps

    /// Drives the handshake one step (`SSL_do_handshake`): `.done(0)` once it completed.
    public func handshakeStep() -> TLSIOResult {
        OpenSSLErrorQueue.clear()
        if let error = takeCallbackError() { return .failed(error) }
        errno = 0
        let ret = SSL_do_handshake(pointer)
        return outcome(ret, moved: 0)
    }

    /// Decrypts up to `buffer.count` bytes into `buffer` (`SSL_read_ex`). With a socket, keep calling until
    /// `.wantRead`: records OpenSSL already pulled off the socket do not make it readable again.
    /// An empty buffer returns `.done(0)` without touching OpenSSL.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> TLSIOResult {
        readStep(into: buffer, peek: false)
    }

    /// Encrypts and sends bytes from `buffer` (`SSL_write_ex`). Partial writes are allowed (`.done(n)` with
    /// `n < buffer.count`). After `.wantWrite`/`.wantRead` call again with the same bytes; the buffer may have
    /// moved (the Context sets `SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER`). An empty buffer returns `.done(0)`.
    public func write(_ buffer: UnsafeRawBufferPointer) -> TLSIOResult {
        OpenSSLErrorQueue.clear()
        if let error = takeCallbackError() { return .failed(error) }
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .done(0) }
        errno = 0
        var written = 0
        let ret = SSL_write_ex(pointer, base, buffer.count, &written)
        return outcome(ret, moved: written)
    }

    /// One step of the TLS shutdown (`SSL_shutdown`): `.done(0)` when our close_notify went out but the peer's
    /// has not arrived, `.closed` when both directions are closed. Waiting for the peer's close_notify is
    /// optional: a caller that is about to close the transport may stop after `.done(0)`.
    public func shutdownStep() -> TLSIOResult {
        OpenSSLErrorQueue.clear()
        if let error = takeCallbackError() { return .failed(error) }
        errno = 0
        let ret = SSL_shutdown(pointer)
        if ret == 0, pendingCallbackError == nil { return .done(0) }
        if ret == 1, pendingCallbackError == nil { return .closed }
        return outcome(ret, moved: 0)
    }

    /// `read(into:)` with an optional peek (`SSL_peek_ex`: the bytes stay buffered).
    package func readStep(into buffer: UnsafeMutableRawBufferPointer, peek: Bool) -> TLSIOResult {
        OpenSSLErrorQueue.clear()
        if let error = takeCallbackError() { return .failed(error) }
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .done(0) }
        errno = 0
        var count = 0
        let ret = peek
            ? SSL_peek_ex(pointer, base, buffer.count, &count)
            : SSL_read_ex(pointer, base, buffer.count, &count)
        return outcome(ret, moved: count)
    }

    /// Turns an OpenSSL return value into a step result. Must run right after the call (it reads `errno`).
    /// A callback error recorded during the call wins over whatever OpenSSL reported.
    @inline(__always)
    private func outcome(_ ret: Int32, moved: Int) -> TLSIOResult {
        let savedErrno = errno
        if let error = takeCallbackError() {
            OpenSSLErrorQueue.clear()
            return .failed(error)
        }
        if ret == 1 { return .done(moved) }
        return classify(ret, errno: savedErrno)
    }

    /// Maps `SSL_get_error` to a result, draining the error queue for every failure.
    private func classify(_ ret: Int32, errno savedErrno: Int32) -> TLSIOResult {
        let code = SSL_get_error(pointer, ret)
        switch code {
        case SSL_ERROR_WANT_READ:
            return .wantRead
        case SSL_ERROR_WANT_WRITE:
            return .wantWrite
        case SSL_ERROR_ZERO_RETURN:
            OpenSSLErrorQueue.clear()
            return .closed
        case SSL_ERROR_SYSCALL:
            if OpenSSLErrorQueue.isEmpty {
                // pyOpenSSL: errno set means a transport error, otherwise EOF. (pyOpenSSL also requires a
                // negative return, but the `_ex` calls return 0 on every failure; errno is zeroed before each
                // call, so it is only set when the transport failed.)
                if savedErrno != 0 {
                    return .failed(SSLError.sysCall(errno: savedErrno, message: errnoName(savedErrno)))
                }
                return .unexpectedEOF
            }
            return .failed(SSLError.fromQueue())
        case SSL_ERROR_SSL:
            // OpenSSL 3.0 reports EOF without close_notify as a protocol error; pyOpenSSL remaps it.
            let first = ERR_peek_error()
            if ERR_GET_LIB(first) == ERR_LIB_SSL, ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING {
                OpenSSLErrorQueue.clear()
                return .unexpectedEOF
            }
            return .failed(SSLError.fromQueue())
        case SSL_ERROR_WANT_X509_LOOKUP:
            OpenSSLErrorQueue.clear()
            return .failed(SSLError.wantX509Lookup)
        default:
            let entries = OpenSSLErrorQueue.drain()
            return .failed(SSLError.openSSL(entries.isEmpty
                ? [OpenSSLErrorEntry(library: "SSL routines", function: "", reason: "SSL_get_error returned \(code)")]
                : entries))
        }
    }

    // MARK: Throwing API (pyOpenSSL shape)

    /// Performs (part of) the handshake (`do_handshake`). Throws `wantRead`/`wantWrite` when the transport
    /// must be serviced first, `zeroReturn`, `sysCall`, `openSSL`, or a callback's own error (first).
    public func doHandshake() throws {
        try Connection.unwrap(handshakeStep())
    }

    /// Sends `bytes` (`send`/`write`): returns how many were written, possibly fewer than given
    /// (partial writes). After `wantWrite`/`wantRead`, retry with the same bytes.
    @discardableResult
    public func send(_ bytes: some Collection<UInt8>) throws -> Int {
        let result: TLSIOResult? = bytes.withContiguousStorageIfAvailable { write(UnsafeRawBufferPointer($0)) }
        if let result { return try Connection.unwrap(result) }
        let array = Array(bytes)
        return try Connection.unwrap(array.withUnsafeBytes { write($0) })
    }

    /// Sends bytes from a raw buffer, without copying.
    @discardableResult
    public func send(_ buffer: UnsafeRawBufferPointer) throws -> Int {
        try Connection.unwrap(write(buffer))
    }

    /// Sends all of `bytes` (`sendall`), looping over partial writes. Returns the total.
    ///
    /// On a failure after some bytes went out, throws `SSLError.incompleteSend(sent:cause:)` so the caller
    /// knows where to resume (pyOpenSSL loses that count). A callback's own error is rethrown unchanged.
    /// With a non-blocking socket a full send buffer ends the loop with `incompleteSend(sent, .wantWrite)`.
    @discardableResult
    public func sendAll(_ bytes: some Collection<UInt8>) throws -> Int {
        let array = Array(bytes)
        return try array.withUnsafeBytes { try sendAll($0) }
    }

    /// `sendAll` from a raw buffer.
    @discardableResult
    public func sendAll(_ buffer: UnsafeRawBufferPointer) throws -> Int {
        var sent = 0
        while sent < buffer.count {
            let rest = UnsafeRawBufferPointer(rebasing: buffer[sent...])
            switch write(rest) {
            case .done(let count): sent += count
            case .wantRead: throw SSLError.incompleteSend(sent: sent, cause: .wantRead)
            case .wantWrite: throw SSLError.incompleteSend(sent: sent, cause: .wantWrite)
            case .closed: throw SSLError.incompleteSend(sent: sent, cause: .zeroReturn)
            case .unexpectedEOF: throw SSLError.incompleteSend(sent: sent, cause: .unexpectedEOF)
            case .failed(let error):
                if let sslError = error as? SSLError { throw SSLError.incompleteSend(sent: sent, cause: sslError) }
                throw error
            }
        }
        return sent
    }

    /// Reads up to `maxLength` decrypted bytes (`recv`/`read`); with `peek` they stay buffered (`MSG_PEEK`).
    /// Throws `zeroReturn` on close_notify and `SSLError.unexpectedEOF` on EOF without it.
    public func recv(_ maxLength: Int, peek: Bool = false) throws -> [UInt8] {
        guard maxLength >= 0 else { throw SSLError.argument("bufsiz must not be negative") }
        return try [UInt8](unsafeUninitializedCapacity: maxLength) { storage, initialized in
            initialized = 0
            let result = readStep(into: UnsafeMutableRawBufferPointer(storage), peek: peek)
            initialized = try Connection.unwrap(result)
        }
    }

    /// Reads into `buffer` without allocating or copying (`recv_into`): at most
    /// `min(maxLength ?? buffer.count, buffer.count)` bytes. Returns the count.
    public func recvInto(
        _ buffer: UnsafeMutableRawBufferPointer, maxLength: Int? = nil, peek: Bool = false
    ) throws -> Int {
        if let maxLength, maxLength < 0 { throw SSLError.argument("nbytes must not be negative") }
        let limit = Swift.min(maxLength ?? buffer.count, buffer.count)
        return try Connection.unwrap(readStep(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<limit]), peek: peek))
    }

    /// Same as `recvInto(_:maxLength:peek:)`, spelled like the catalogue's `recv(into:)`.
    public func recv(into buffer: UnsafeMutableRawBufferPointer, maxLength: Int? = nil, peek: Bool = false) throws -> Int {
        try recvInto(buffer, maxLength: maxLength, peek: peek)
    }

    /// Sends close_notify and, on the second call, waits for the peer's (`shutdown`): returns `false` after
    /// sending ours while the peer's has not been seen, `true` once both are done. A second call before
    /// the peer's close_notify arrived throws `wantRead` (non-blocking).
    @discardableResult
    public func shutdown() throws -> Bool {
        switch shutdownStep() {
        case .done: return false
        case .closed: return true
        case let other: try Connection.unwrap(other); return false
        }
    }

    /// Converts a step result into the throwing API's return value or error.
    @discardableResult
    package static func unwrap(_ result: TLSIOResult) throws -> Int {
        switch result {
        case .done(let count): return count
        case .wantRead: throw SSLError.wantRead
        case .wantWrite: throw SSLError.wantWrite
        case .closed: throw SSLError.zeroReturn
        case .unexpectedEOF: throw SSLError.unexpectedEOF
        case .failed(let error): throw error
        }
    }

    // MARK: State queries

    /// Decrypted bytes buffered inside OpenSSL, readable without touching the transport (`pending`).
    public func pending() -> Int { Int(SSL_pending(pointer)) }

    /// True when OpenSSL wants to read from the transport (`want_read`).
    public func wantRead() -> Bool { SSL_want(pointer) == SSL_READING }

    /// True when OpenSSL wants to write to the transport (`want_write`).
    public func wantWrite() -> Bool { SSL_want(pointer) == SSL_WRITING }
}

/// The symbolic name of an errno value as pyOpenSSL reports it (`errno.errorcode`), or strerror's text.
package func errnoName(_ code: Int32) -> String {
    switch code {
    case EPIPE: return "EPIPE"
    case ECONNRESET: return "ECONNRESET"
    case ECONNREFUSED: return "ECONNREFUSED"
    case ECONNABORTED: return "ECONNABORTED"
    case ETIMEDOUT: return "ETIMEDOUT"
    case ENOTCONN: return "ENOTCONN"
    case EBADF: return "EBADF"
    case EINTR: return "EINTR"
    case EAGAIN: return "EAGAIN"
    case EINPROGRESS: return "EINPROGRESS"
    case EALREADY: return "EALREADY"
    case EISCONN: return "EISCONN"
    case EHOSTUNREACH: return "EHOSTUNREACH"
    case ENETUNREACH: return "ENETUNREACH"
    case EADDRINUSE: return "EADDRINUSE"
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL"
    case EINVAL: return "EINVAL"
    case ENOTSOCK: return "ENOTSOCK"
    case EACCES: return "EACCES"
    case ENOENT: return "ENOENT"
    default: return String(cString: strerror(code))
    }
}
