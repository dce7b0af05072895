/// How an encrypted private key's passphrase is supplied. Loading never prompts on the terminal: without a
/// passphrase an encrypted key fails with an OpenSSL error.
public enum Passphrase {
    /// The passphrase bytes (NULs allowed: the explicit length is passed).
    case bytes([UInt8])
    /// Called with `true` when the passphrase is being set (writing) and `false` when reading. An error it
    /// throws is rethrown from the loading call.
    case callback((Bool) throws -> [UInt8])

    public static func string(_ text: String) -> Passphrase { .bytes(Array(text.utf8)) }
}

/// Context handed to OpenSSL's `pem_password_cb` through its `void *` argument.
package final class PassphraseBox {
    package let passphrase: Passphrase?
    package var error: (any Error)?
    package init(_ passphrase: Passphrase?) { self.passphrase = passphrase }

    /// Runs `body` with the user-data pointer for `passphraseTrampoline`, then rethrows the callback's own
    /// error if it threw.
    static func with<R>(
        _ passphrase: Passphrase?,
        _ body: (UnsafeMutableRawPointer) throws -> R
    ) throws -> R {
        let box = PassphraseBox(passphrase)
        let result = try withExtendedLifetime(box) {
            try body(Unmanaged.passUnretained(box).toOpaque())
        }
        if let error = box.error {
            OpenSSLErrorQueue.clear()
            throw error
        }
        return result
    }
}

/// The only `pem_password_cb` the module installs: never prompts, returns -1 (failure) without a passphrase.
/// Its user data is the pointer `PassphraseBox.with` provides.
func passphraseTrampoline(
    _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int32, _ rwflag: Int32, _ userdata: UnsafeMutableRawPointer?
) -> Int32 {
    guard let buffer, let userdata else { return -1 }
    let box = Unmanaged<PassphraseBox>.fromOpaque(userdata).takeUnretainedValue()
    let bytes: [UInt8]
    switch box.passphrase {
    case .none: return -1
    case .bytes(let value): bytes = value
    case .callback(let callback):
        do { bytes = try callback(rwflag != 0) } catch {
            box.error = error
            return -1
        }
    }
    guard bytes.count <= Int(size) else {
        box.error = CryptoError.invalidArgument("passphrase returned by callback is too long (\(bytes.count) > \(size) bytes)")
        return -1
    }
    bytes.withUnsafeBytes { raw in
        UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
    }
    return Int32(bytes.count)
}
