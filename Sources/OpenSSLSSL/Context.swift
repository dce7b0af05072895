internal import COpenSSL
internal import COpenSSLShim
internal import OpenSSLCrypto
import Synchronization

/// A TLS context (pyOpenSSL's `SSL.Context`): certificates, verification, ciphers, session cache and callbacks
/// shared by the connections made from it. Owns one `SSL_CTX *`.
///
/// Thread safety: a Context is configured by one thread, then frozen by the first `Connection` made from it.
/// Every mutating method of a frozen Context throws `SSLError.contextInUse`; getters keep working. A frozen
/// Context is safe to share across threads, which is why it is `Sendable`. The one documented exception is
/// `setTicketKeys(_:)`, which may rotate session-ticket keys on a frozen Context (it swaps an immutable key
/// ring under a lock and never rebuilds the context).
///
/// The Context holds its callbacks. A callback that captures this same Context makes a reference cycle that keeps
/// the `SSL_CTX` alive forever; use the Connection the callback receives (`connection.getContext()`).
public final class Context: @unchecked Sendable {
    /// The owned `SSL_CTX *`.
    package let pointer: OpaquePointer
    /// Set once by the first Connection; never cleared.
    private let frozen = Atomic<Bool>(false)

    // Callback and wrapper state. Written only while the Context is mutable (each setter calls
    // `ensureMutable()` first), read by the C trampolines afterwards: no synchronisation is needed once frozen.
    var verifyCallback: VerifyCallbackBox?
    var serverNameCallback: ServerNameCallback?
    var alpnSelectCallback: ALPNSelectCallback?
    var infoCallback: InfoCallback?
    var keylogCallback: KeylogCallback?
    var clientHelloCallback: ClientHelloCallback?
    var ocspCallback: OCSPCallbackBox?
    var cookieGenerateCallback: CookieGenerateCallback?
    var cookieVerifyCallback: CookieVerifyCallback?
    var npnAdvertiseCallback: NPNAdvertiseCallback?
    var npnSelectCallback: NPNSelectCallback?
    /// The passphrase source for encrypted keys loaded through this Context (never the terminal).
    let passwordBox = PasswordCallbackBox()
    /// The session-ticket keys (nil = OpenSSL's own random per-Context keys). Swapped whole by
    /// `setTicketKeys`, also on a frozen Context; read once per ticket by the C callback.
    let ticketKeyRing = Mutex<TicketKeyRing?>(nil)
    /// True once `setTicketKeys` installed the C callback (only ever set before freezing).
    var ticketCallbackInstalled = false
    /// pyOpenSSL's `get_app_data`/`set_app_data` storage (never handed to OpenSSL).
    public private(set) var appData: Any?

    /// Takes ownership of `pointer`.
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
        // The verify-callback slot must exist before the first SSL is made from any Context.
        _ = VerifyCallbackSlot.index
        // Callbacks find their Context in O(1) through app data (ex_data index 0); the pointer is unretained
        // because the SSL_CTX never outlives this object.
        SSL_CTX_set_ex_data(pointer, 0, Unmanaged.passUnretained(self).toOpaque())
        // Encrypted keys must never make OpenSSL prompt on the terminal: the trampoline answers from
        // `passwordBox`, and fails when no callback was set.
        SSL_CTX_set_default_passwd_cb(pointer, passwordTrampoline)
        SSL_CTX_set_default_passwd_cb_userdata(pointer, Unmanaged.passUnretained(passwordBox).toOpaque())
    }

    /// A new context for `method` (pyOpenSSL's `Context(method)`).
    ///
    /// Like pyOpenSSL it sets `MODE_ENABLE_PARTIAL_WRITE | MODE_ACCEPT_MOVING_WRITE_BUFFER` (a Swift array may
    /// move between write retries) and pins min = max for `.tlsv1`, `.tlsv1_1` and `.tlsv1_2`. As a secure
    /// default, the version-flexible TLS methods start at TLS 1.2 minimum (`setMinProtoVersion(0)` lowers it).
    /// Compression stays off and client-initiated renegotiation stays refused (OpenSSL 3.0 defaults).
    public convenience init(method: SSL.Method) throws {
        OpenSSLErrorQueue.clear()
        let (sslMethod, pinned) = method.openSSLMethod
        guard let ctx = SSL_CTX_new(sslMethod) else { throw SSLError.fromQueue("SSL_CTX_new") }
        self.init(owning: ctx)
        let minimum = pinned != 0 ? pinned : (method.isDatagram ? 0 : COpenSSL.TLS1_2_VERSION)
        if minimum != 0 {
            guard portcullis_SSL_CTX_set_min_proto_version(ctx, minimum) == 1 else {
                throw SSLError.fromQueue("SSL_CTX_set_min_proto_version")
            }
        }
        if pinned != 0 {
            guard portcullis_SSL_CTX_set_max_proto_version(ctx, pinned) == 1 else {
                throw SSLError.fromQueue("SSL_CTX_set_max_proto_version")
            }
        }
        _ = portcullis_SSL_CTX_set_mode(ctx, Int(COpenSSL.SSL_MODE_ENABLE_PARTIAL_WRITE | COpenSSL.SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
    }

    /// `Context(method)` for a numeric pyOpenSSL method value. 1 (SSLv2) and 2 (SSLv3) throw
    /// `SSLError.unsupported`; any other value outside 3...12 throws `.invalidArgument("No such protocol")`.
    public convenience init(methodRawValue: Int) throws {
        OpenSSLErrorQueue.clear()
        switch methodRawValue {
        case 1: throw SSLError.unsupported("SSLv2 is not available in OpenSSL 3.0")
        case 2: throw SSLError.unsupported("SSLv3 is not available: this OpenSSL 3.0 is built without SSLv3")
        default:
            guard let raw = Int32(exactly: methodRawValue), let method = SSL.Method(rawValue: raw) else {
                throw SSLError.invalidArgument("No such protocol")
            }
            try self.init(method: method)
        }
    }

    deinit { SSL_CTX_free(pointer) }

    /// The Context that owns `ctx`, for C callbacks.
    package static func from(_ ctx: OpaquePointer) -> Context? {
        guard let raw = SSL_CTX_get_ex_data(ctx, 0) else { return nil }
        return Unmanaged<Context>.fromOpaque(raw).takeUnretainedValue()
    }

    /// True once a Connection was made from this Context (or it was passed to `Connection.setContext`).
    public var isFrozen: Bool { frozen.load(ordering: .acquiring) }

    /// Freezes the Context. Called by `Connection` init and `Connection.setContext`.
    package func markUsed() {
        frozen.store(true, ordering: .releasing)
    }

    /// Every mutating method calls this first. It also clears the thread's error queue, so neither this
    /// refusal nor a later argument check can leave an earlier call's entries behind.
    package func ensureMutable() throws(SSLError) {
        OpenSSLErrorQueue.clear()
        if isFrozen { throw SSLError.contextInUse }
    }

    /// Stores an arbitrary object with the Context (pyOpenSSL's `set_app_data`).
    public func setAppData(_ data: Any?) throws {
        try ensureMutable()
        appData = data
    }

    /// pyOpenSSL's `get_app_data`.
    public func getAppData() -> Any? { appData }
}
