internal import COpenSSL
internal import COpenSSLShim
internal import OpenSSLCrypto

/// One TLS connection (pyOpenSSL's `SSL.Connection`), over a socket file descriptor or over a pair of memory
/// BIOs. Owns one `SSL *`. Not thread-safe: one thread drives a Connection at a time.
///
/// Two transports:
/// - `Connection(context:)`: a pair of memory BIOs. Feed received ciphertext with `bioWrite`, collect
///   ciphertext to send with `bioRead`.
/// - `Connection(context:socket:)`: OpenSSL reads and writes the file descriptor itself (no extra copies;
///   the transport the proxy uses). The caller owns the descriptor; the Connection closes it only in `close()`.
///
/// Every Connection runs with `SSL_MODE_AUTO_RETRY` on top of the Context's modes, and freezes its Context.
public final class Connection {
    /// How ciphertext moves between OpenSSL and the outside.
    package enum Transport {
        /// Not attached yet (only between `init(owning:context:)` and the public initialisers).
        case none
        /// `incoming` is the BIO OpenSSL reads from (`bioWrite` fills it), `outgoing` the one it writes to
        /// (`bioRead` drains it). Both are owned by the `SSL *` (`SSL_set_bio`), so they live as long as it.
        case memory(incoming: OpaquePointer, outgoing: OpaquePointer)
        /// A socket BIO on this descriptor (`SSL_set_fd`, `BIO_NOCLOSE`).
        case socket
    }

    /// The owned `SSL *`.
    package let pointer: OpaquePointer
    /// The Context this connection currently uses (changes with `setContext`, for SNI).
    package private(set) var context: Context
    /// An error thrown by a Swift callback while OpenSSL was running. The call that drove OpenSSL
    /// (`doHandshake`, `recv`, `send`, ...) rethrows it before anything else, so it is never swallowed.
    package var pendingCallbackError: (any Error)?
    /// The transport, fixed by the public initialisers.
    package private(set) var transport: Transport = .none
    /// The socket descriptor, or -1 (memory BIOs, or after `close()`).
    package internal(set) var socketDescriptor: Int32 = -1
    /// Per-connection callbacks (`setVerify`, `setInfoCallback`); kept here so they live as long as the SSL.
    package var connectionCallbacks = ConnectionCallbacks()

    /// A user object attached to this connection (pyOpenSSL's `get_app_data`/`set_app_data`). Nil initially.
    public var appData: Any?

    /// Takes ownership of `pointer`, made from `context`.
    package init(owning pointer: OpaquePointer, context: Context) {
        self.pointer = pointer
        self.context = context
        context.markUsed()
        // O(1) lookup from C callbacks; unretained because the SSL never outlives this object.
        SSL_set_ex_data(pointer, 0, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit { SSL_free(pointer) }

    /// A connection over a pair of memory BIOs (pyOpenSSL's `Connection(context, None)`).
    ///
    /// Nothing touches a socket: move ciphertext with `bioRead`/`bioWrite`. An empty incoming BIO makes
    /// OpenSSL ask for more (`wantRead`) until `bioShutdown()` marks end of input.
    public convenience init(context: Context) throws {
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.pointer) else { throw SSLError.fromQueue() }
        self.init(owning: ssl, context: context)
        guard let incoming = BIO_new(BIO_s_mem()) else { throw SSLError.fromQueue() }
        guard let outgoing = BIO_new(BIO_s_mem()) else {
            BIO_free(incoming)
            throw SSLError.fromQueue()
        }
        // An empty memory BIO already reports "retry" (-1); set it explicitly because bioShutdown flips it.
        _ = portcullis_conn_BIO_set_mem_eof_return(incoming, -1)
        _ = portcullis_conn_BIO_set_mem_eof_return(outgoing, -1)
        SSL_set_bio(ssl, incoming, outgoing)
        transport = .memory(incoming: incoming, outgoing: outgoing)
        _ = portcullis_conn_SSL_set_mode(ssl, Int(SSL_MODE_AUTO_RETRY))
    }

    /// A connection that reads and writes `socket` itself (pyOpenSSL's `Connection(context, sock)`).
    ///
    /// The descriptor may be blocking or non-blocking; with a non-blocking one, calls report
    /// `wantRead`/`wantWrite`. The caller keeps owning it: the Connection never closes it except in `close()`.
    /// Writing to a socket the peer has closed raises SIGPIPE: processes using this must ignore SIGPIPE.
    public convenience init(context: Context, socket: Int32) throws {
        OpenSSLErrorQueue.clear()
        guard socket >= 0 else { throw SSLError.invalidArgument("socket must be a valid file descriptor, got \(socket)") }
        guard let ssl = SSL_new(context.pointer) else { throw SSLError.fromQueue() }
        self.init(owning: ssl, context: context)
        guard SSL_set_fd(ssl, socket) == 1 else { throw SSLError.fromQueue() }
        transport = .socket
        socketDescriptor = socket
        _ = portcullis_conn_SSL_set_mode(ssl, Int(SSL_MODE_AUTO_RETRY))
    }

    /// The Connection that owns `ssl`, for C callbacks.
    package static func from(_ ssl: OpaquePointer) -> Connection? {
        guard let raw = SSL_get_ex_data(ssl, 0) else { return nil }
        return Unmanaged<Connection>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Records a callback's error so the driving call rethrows it.
    package func recordCallbackError(_ error: any Error) {
        if pendingCallbackError == nil { pendingCallbackError = error }
    }

    /// The callback error that aborted this connection, once delivered. Every later I/O step fails with it
    /// again without calling OpenSSL, so a handshake a callback refused can never continue.
    package private(set) var callbackFailure: (any Error)?

    /// Returns the callback error to rethrow now, if any: a newly recorded one (which becomes the sticky
    /// `callbackFailure`) or the earlier one.
    package func takeCallbackError() -> (any Error)? {
        guard let error = pendingCallbackError else { return callbackFailure }
        pendingCallbackError = nil
        callbackFailure = error
        return error
    }

    /// Used by `setContext`: switches the Swift-side reference and freezes the new context.
    package func replaceContext(_ newContext: Context) {
        newContext.markUsed()
        context = newContext
    }

    /// The Context this connection uses now (`get_context`).
    public func getContext() -> Context { context }

    /// Switches to another Context (`set_context`, `SSL_set_SSL_CTX`), typically from an SNI callback to serve
    /// another certificate. Freezes `newContext`.
    ///
    /// OpenSSL swaps only the certificate, key and session id context: the verify mode, verify callback,
    /// verify depth and options copied from the first Context stay in force. To require client certificates
    /// for one host, call `setVerify`/`setVerifyDepth`/`setOptions` on this Connection after switching.
    public func setContext(_ newContext: Context) throws {
        OpenSSLErrorQueue.clear()
        guard SSL_set_SSL_CTX(pointer, newContext.pointer) != nil else { throw SSLError.fromQueue() }
        replaceContext(newContext)
    }

    /// Puts the connection in server mode (`set_accept_state`).
    public func setAcceptState() { SSL_set_accept_state(pointer) }

    /// Puts the connection in client mode (`set_connect_state`).
    public func setConnectState() { SSL_set_connect_state(pointer) }

    /// True for a memory-BIO connection.
    public var isMemoryBIO: Bool {
        if case .memory = transport { return true }
        return false
    }
}
