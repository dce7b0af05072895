internal import COpenSSL
internal import COpenSSLShim

/// A Netscape signed public key and challenge, SPKAC (pyOpenSSL's `crypto.NetscapeSPKI`). Owns one
/// `NETSCAPE_SPKI *`.
public final class NetscapeSPKI: @unchecked Sendable {
    /// The owned `NETSCAPE_SPKI *`.
    package let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// An empty SPKAC.
    public convenience init() throws {
        guard let spki = NETSCAPE_SPKI_new() else { throw CryptoError.fromQueue() }
        self.init(owning: OpaquePointer(spki))
    }

    /// Decodes a base64 SPKAC blob (the pyOpenSSL 0.13 `NetscapeSPKI(enc)` form, `NETSCAPE_SPKI_b64_decode`).
    public convenience init(base64: some Collection<UInt8>) throws {
        OpenSSLErrorQueue.clear()
        let text = Array(base64)
        guard text.count <= Int(Int32.max) else { throw CryptoError.invalidArgument("SPKAC blob too large") }
        let spki = text.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { NETSCAPE_SPKI_b64_decode($0.baseAddress, Int32($0.count)) }
        }
        guard let spki else { throw CryptoError.fromQueue() }
        self.init(owning: OpaquePointer(spki))
    }

    /// Decodes a base64 SPKAC blob given as text.
    public convenience init(base64: String) throws { try self.init(base64: Array(base64.utf8)) }

    deinit { NETSCAPE_SPKI_free(typed) }

    private var typed: UnsafeMutablePointer<NETSCAPE_SPKI> { UnsafeMutablePointer(pointer) }

    /// Signs the SPKAC (`NetscapeSPKI.sign`). An empty key, a public-only key or an unknown digest is
    /// `.invalidArgument`.
    public func sign(key: PKey, digest: String) throws {
        OpenSSLErrorQueue.clear()
        let pkey = try key.requirePointer("NetscapeSPKI.sign")
        if key.isPublicOnly { throw CryptoError.invalidArgument("Key has only public part") }
        let md = try MessageDigestName.lookup(digest)
        guard NETSCAPE_SPKI_sign(typed, pkey, md) > 0 else { throw CryptoError.fromQueue() }
    }

    /// True when the signature verifies with `key`; otherwise `.openSSL` (`NetscapeSPKI.verify`). An empty
    /// key is `.invalidArgument`.
    public func verify(key: PKey) throws -> Bool {
        OpenSSLErrorQueue.clear()
        let pkey = try key.requirePointer("NetscapeSPKI.verify")
        guard NETSCAPE_SPKI_verify(typed, pkey) > 0 else { throw CryptoError.fromQueue() }
        return true
    }

    /// The base64 SPKAC blob (`NetscapeSPKI.b64_encode`).
    public func b64Encode() throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        guard let encoded = NETSCAPE_SPKI_b64_encode(typed) else { throw CryptoError.fromQueue() }
        defer { portcullis_OPENSSL_free(encoded) }
        return Array(String(cString: encoded).utf8)
    }

    /// The public key as a public-only `PKey` (`NetscapeSPKI.get_pubkey`).
    public func getPubkey() throws -> PKey {
        OpenSSLErrorQueue.clear()
        guard let key = NETSCAPE_SPKI_get_pubkey(typed) else { throw CryptoError.fromQueue() }
        return PKey(owning: key, publicOnly: true)
    }

    /// Sets the public key (`NetscapeSPKI.set_pubkey`); an empty key is `.invalidArgument`.
    public func setPubkey(_ key: PKey) throws {
        OpenSSLErrorQueue.clear()
        let pkey = try key.requirePointer("NetscapeSPKI.setPubkey")
        guard NETSCAPE_SPKI_set_pubkey(typed, pkey) == 1 else { throw CryptoError.fromQueue() }
    }
}
