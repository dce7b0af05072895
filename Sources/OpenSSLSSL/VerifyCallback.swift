internal import COpenSSL
internal import COpenSSLShim
public import OpenSSLCrypto

extension Context {
    /// A certificate verification callback: `(connection, certificate, errorNumber, depth, preverifyOK) -> accept`.
    ///
    /// Called once per certificate of the peer's chain with OpenSSL's own verdict (`preverifyOK`) and the
    /// `X509_V_*` error number. Returning true accepts the certificate and resets the error to `X509_V_OK`;
    /// false fails verification. A thrown error fails the handshake and is rethrown unchanged from the call
    /// that drove it (`doHandshake`, `handshakeStep`). It runs even with `VERIFY_NONE`, where its verdict does not
    /// stop the handshake (a thrown error still does).
    public typealias VerifyCallback = @Sendable (
        _ connection: Connection, _ certificate: X509, _ errorNumber: Int32, _ depth: Int32, _ preverifyOK: Bool
    ) throws -> Bool
}

/// Holds a verify callback for the C trampoline; retained by every SSL that uses it.
final class VerifyCallbackBox: Sendable {
    let callback: Context.VerifyCallback
    init(_ callback: @escaping Context.VerifyCallback) { self.callback = callback }
}

/// Per-SSL storage of the verify callback in an ex_data slot.
///
/// OpenSSL copies the verify *function* from the `SSL_CTX` into each `SSL` at `SSL_new` and keeps it across
/// `SSL_set_SSL_CTX` (SNI). One C trampoline serves every Context, so the Swift closure must be copied the same
/// way: the slot's "new" hook retains the creating Context's callback box into the new SSL, and `setContext`
/// does not touch it. A Connection's own `setVerify` installs its own trampoline instead.
enum VerifyCallbackSlot {
    /// Allocated before the first SSL exists (`Context.init` touches it), so the hook sees every SSL.
    static let index: Int32 = portcullis_SSL_get_ex_new_index(verifySlotNew, verifySlotFree)

    static func box(for ssl: OpaquePointer) -> VerifyCallbackBox? {
        guard let raw = SSL_get_ex_data(ssl, index) else { return nil }
        return Unmanaged<VerifyCallbackBox>.fromOpaque(raw).takeUnretainedValue()
    }

    static func set(_ box: VerifyCallbackBox?, on ssl: OpaquePointer) {
        let old = SSL_get_ex_data(ssl, index)
        SSL_set_ex_data(ssl, index, box.map { Unmanaged.passRetained($0).toOpaque() })
        if let old { Unmanaged<VerifyCallbackBox>.fromOpaque(old).release() }
    }
}

private func verifySlotNew(
    _ parent: UnsafeMutableRawPointer?, _ ptr: UnsafeMutableRawPointer?, _ ad: UnsafeMutablePointer<CRYPTO_EX_DATA>?,
    _ idx: Int32, _ argl: Int, _ argp: UnsafeMutableRawPointer?
) {
    guard let parent, let ad else { return }
    guard let ctx = SSL_get_SSL_CTX(OpaquePointer(parent)), let context = Context.from(ctx),
          let box = context.verifyCallback else { return }
    CRYPTO_set_ex_data(ad, idx, Unmanaged.passRetained(box).toOpaque())
}

private func verifySlotFree(
    _ parent: UnsafeMutableRawPointer?, _ ptr: UnsafeMutableRawPointer?, _ ad: UnsafeMutablePointer<CRYPTO_EX_DATA>?,
    _ idx: Int32, _ argl: Int, _ argp: UnsafeMutableRawPointer?
) {
    if let ptr { Unmanaged<VerifyCallbackBox>.fromOpaque(ptr).release() }
}

/// The `SSL_verify_cb` installed whenever a Swift verify callback is set.
func verifyTrampoline(_ preverify: Int32, _ storeContext: OpaquePointer?) -> Int32 {
    guard let storeContext,
          let rawSSL = X509_STORE_CTX_get_ex_data(storeContext, SSL_get_ex_data_X509_STORE_CTX_idx()) else {
        return preverify
    }
    let ssl = OpaquePointer(rawSSL)
    guard let connection = Connection.from(ssl), let box = VerifyCallbackSlot.box(for: ssl),
          let certificatePointer = X509_STORE_CTX_get_current_cert(storeContext) else {
        return preverify
    }
    return verdict(of: box.callback, for: connection, certificate: certificatePointer, storeContext: storeContext,
                   preverify: preverify)
}

/// Asks a Swift verify callback (set on the Context or on the Connection) about the certificate
/// `storeContext` is at, and returns OpenSSL's verdict: 1 accepts (the recorded error becomes `X509_V_OK`),
/// 0 refuses. A thrown error is kept on the Connection for the call that drove the handshake to rethrow.
func verdict(
    of callback: Context.VerifyCallback, for connection: Connection, certificate pointer: OpaquePointer,
    storeContext: OpaquePointer, preverify: Int32
) -> Int32 {
    let certificate = X509(retaining: pointer)
    let errorNumber = X509_STORE_CTX_get_error(storeContext)
    let depth = X509_STORE_CTX_get_error_depth(storeContext)
    do {
        if try callback(connection, certificate, errorNumber, depth, preverify != 0) {
            X509_STORE_CTX_set_error(storeContext, X509_V_OK)
            return 1
        }
    } catch {
        connection.recordCallbackError(error)
    }
    // A rejection must never leave "OK" as the recorded verify result.
    if X509_STORE_CTX_get_error(storeContext) == X509_V_OK {
        X509_STORE_CTX_set_error(storeContext, X509_V_ERR_APPLICATION_VERIFICATION)
    }
    return 0
}

extension Context {
    /// Sets the verify mode (`SSL.VERIFY_*` bits) and an optional callback (`SSL_CTX_set_verify`).
    /// Without a callback OpenSSL's own verdict decides (pyOpenSSL's default since 20.0.0).
    /// Connections made afterwards inherit both; an SNI `setContext` does not change a Connection's.
    public func setVerify(_ mode: Int32, callback: VerifyCallback? = nil) throws {
        try ensureMutable()
        var box: VerifyCallbackBox?
        if let callback { box = VerifyCallbackBox(callback) }
        verifyCallback = box
        SSL_CTX_set_verify(pointer, mode, box == nil ? nil : verifyTrampoline)
    }

    /// The Swift verify callback set with `setVerify`, if any: with `getVerifyMode()`, what an SNI callback
    /// re-applies on the Connection after `setContext` (`connection.setVerify(mode, callback: callback)`).
    public func getVerifyCallback() -> VerifyCallback? { verifyCallback?.callback }

    /// The verify mode bits (`SSL_CTX_get_verify_mode`), 0 by default.
    public func getVerifyMode() -> Int32 { SSL_CTX_get_verify_mode(pointer) }
}
