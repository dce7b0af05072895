internal import COpenSSL
internal import OpenSSLCrypto

extension Context {
    /// A passphrase callback for `Context.setPasswdCb`: `(maxLength, verify, userdata) -> passphrase`.
    /// `verify` is true when OpenSSL is encrypting (it would ask twice). A longer result is truncated to
    /// `maxLength`; an empty result makes the load fail; a thrown error is rethrown from the loading call.
    public typealias PasswordCallback = @Sendable (_ maxLength: Int, _ verify: Bool, _ userdata: (any Sendable)?) throws -> [UInt8]
}

/// The state behind the `SSL_CTX`'s default passphrase callback. Owned by its Context.
final class PasswordCallbackBox: @unchecked Sendable {
    var callback: Context.PasswordCallback?
    var userdata: (any Sendable)?
    /// The error the callback threw during the current load, rethrown by the loading call.
    var error: (any Error)?

    /// Runs a key-loading call and rethrows the callback's own error if it threw during that call.
    func run<R>(_ body: () throws -> R) throws -> R {
        error = nil
        let result = try body()
        if let error {
            self.error = nil
            OpenSSLErrorQueue.clear()
            throw error
        }
        return result
    }
}

/// The only passphrase callback a Context installs: answers from the Context's box and never prompts.
func passwordTrampoline(
    _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int32, _ rwflag: Int32, _ userdata: UnsafeMutableRawPointer?
) -> Int32 {
    guard let buffer, let userdata, size > 0 else { return 0 }
    let box = Unmanaged<PasswordCallbackBox>.fromOpaque(userdata).takeUnretainedValue()
    guard let callback = box.callback else { return 0 }
    let passphrase: [UInt8]
    do {
        passphrase = try callback(Int(size), rwflag != 0, box.userdata)
    } catch {
        box.error = error
        return 0
    }
    let count = min(passphrase.count, Int(size))
    passphrase.withUnsafeBytes { raw in
        if count > 0 { UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress!, byteCount: count) }
    }
    return Int32(count)
}

extension Context {
    /// Sets the passphrase source for encrypted keys loaded later through this Context
    /// (`usePrivateKeyFile`, `useCertificateChainFile`). `userdata` is passed back to every call.
    ///
    /// pyOpenSSL 26.3 deprecates this in favour of decrypting with `Crypto.loadPrivateKey(passphrase:)` and
    /// `usePrivateKey`; it stays undeprecated here because it is the only way to feed `usePrivateKeyFile`.
    public func setPasswdCb(_ callback: @escaping PasswordCallback, userdata: (any Sendable)? = nil) throws {
        try ensureMutable()
        passwordBox.callback = callback
        passwordBox.userdata = userdata
    }
}
