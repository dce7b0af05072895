internal import COpenSSL

/// A public or private key (pyOpenSSL's `crypto.PKey`). Owns one `EVP_PKEY *` and frees it in `deinit`.
public final class PKey: @unchecked Sendable {
    /// The owned `EVP_PKEY *`, or nil for the empty container pyOpenSSL's `PKey()` makes.
    package private(set) var pointer: OpaquePointer?
    /// True when only the public half is known (loaded from a certificate, CSR or SubjectPublicKeyInfo).
    public internal(set) var isPublicOnly: Bool

    /// Takes ownership of `pointer` (one reference).
    package init(owning pointer: OpaquePointer, publicOnly: Bool) {
        self.pointer = pointer
        self.isPublicOnly = publicOnly
    }

    /// An empty key container: `type() == 0` and `bits() == 0` until a key is generated into it.
    public init() {
        self.pointer = nil
        self.isPublicOnly = false
    }

    /// Replaces the held key (used by `generateKey`).
    package func replace(with newPointer: OpaquePointer, publicOnly: Bool) {
        if let pointer { EVP_PKEY_free(pointer) }
        pointer = newPointer
        isPublicOnly = publicOnly
    }

    deinit {
        if let pointer { EVP_PKEY_free(pointer) }
    }
}

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

extension Crypto {
    /// Parses a PEM (possibly encrypted) or DER private key (`crypto.load_privatekey`).
    public static func loadPrivateKey(
        _ type: FileType, _ buffer: some Collection<UInt8>, passphrase: Passphrase? = nil
    ) throws -> PKey {
        OpenSSLErrorQueue.clear()
        let bio = try MemoryBIO(buffer)
        let key: OpaquePointer?
        switch type {
        case .pem:
            key = try PassphraseBox.with(passphrase) { userdata in
                PEM_read_bio_PrivateKey(bio.pointer, nil, passphraseTrampoline, userdata)
            }
        case .asn1:
            if passphrase != nil { throw CryptoError.invalidArgument("passphrase is only supported for PEM encoded private keys") }
            key = d2i_PrivateKey_bio(bio.pointer, nil)
        case .text: throw CryptoError.invalidArgument("type argument must be FILETYPE_PEM or FILETYPE_ASN1")
        }
        guard let key else { throw CryptoError.fromQueue() }
        return PKey(owning: key, publicOnly: false)
    }

    /// Parses a private key given as PEM text.
    public static func loadPrivateKey(_ type: FileType, _ text: String, passphrase: Passphrase? = nil) throws -> PKey {
        try loadPrivateKey(type, Array(text.utf8), passphrase: passphrase)
    }
}
