internal import COpenSSL

/// A public or private key (pyOpenSSL's `crypto.PKey`). Owns one `EVP_PKEY *` and frees it in `deinit`.
///
/// Not thread-safe while it is being regenerated; a key that is only used for signing or dumping may be shared.
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

    /// The held key, or `.invalidArgument` for an empty container.
    package func requirePointer(_ operation: String) throws(CryptoError) -> OpaquePointer {
        guard let pointer else { throw CryptoError.invalidArgument("\(operation): the key is uninitialized") }
        return pointer
    }

    /// The OpenSSL key type id (`EVP_PKEY_get_id`): `Crypto.TYPE_RSA` (6), `TYPE_DSA` (116), `TYPE_EC` (408),
    /// `TYPE_ED25519` (1087), ...; 0 for an empty container.
    public func type() -> Int32 {
        guard let pointer else { return 0 }
        return EVP_PKEY_get_id(pointer)
    }

    /// The key size in bits (`EVP_PKEY_get_bits`); 0 for an empty container.
    public func bits() -> Int {
        guard let pointer else { return 0 }
        return Int(EVP_PKEY_get_bits(pointer))
    }

    /// Generates a new key pair into this container, replacing what it held (`PKey.generate_key`).
    ///
    /// - `Crypto.TYPE_RSA`: an RSA key of `bits` bits with public exponent 65537; `bits <= 0` is
    ///   `.invalidArgument`.
    /// - `Crypto.TYPE_DSA`: fresh DSA parameters of `bits` bits (512 and 576 still work, as in pyOpenSSL),
    ///   then a key.
    /// - `Crypto.TYPE_ED25519` / `Crypto.TYPE_ED448`: `bits` must be 0 or what `bits()` reports for them
    ///   (256 / 456).
    /// - anything else is `.invalidArgument("No such key type")`; use `generateKey(curve:)` for EC keys.
    public func generateKey(type: Int32, bits: Int) throws {
        OpenSSLErrorQueue.clear()
        let key: OpaquePointer
        switch type {
        case Crypto.TYPE_RSA:
            guard bits > 0 else { throw CryptoError.invalidArgument("Invalid number of bits") }
            guard bits <= Int(Int32.max) else { throw CryptoError.invalidArgument("Invalid number of bits") }
            key = try KeyGeneration.generate(algorithm: "RSA") { ctx throws(CryptoError) in
                guard EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, Int32(bits)) > 0 else { throw CryptoError.fromQueue() }
            }
        case Crypto.TYPE_DSA:
            guard bits > 0, bits <= Int(Int32.max) else { throw CryptoError.invalidArgument("Invalid number of bits") }
            key = try KeyGeneration.generateDSA(bits: Int32(bits))
        case Crypto.TYPE_ED25519, Crypto.TYPE_ED448:
            let natural = type == Crypto.TYPE_ED25519 ? 256 : 456
            guard bits == 0 || bits == natural else {
                throw CryptoError.invalidArgument("Ed25519/Ed448 keys have a fixed size (\(natural) bits); pass 0")
            }
            key = try KeyGeneration.generate(algorithm: type == Crypto.TYPE_ED25519 ? "ED25519" : "ED448") { _ throws(CryptoError) in }
        default:
            throw CryptoError.invalidArgument("No such key type (\(type)); use generateKey(curve:) for EC keys")
        }
        replace(with: key, publicOnly: false)
    }

    /// Generates a new EC key on `curve` into this container, replacing what it held.
    public func generateKey(curve: EllipticCurve) throws {
        OpenSSLErrorQueue.clear()
        let key = try KeyGeneration.generate(algorithm: "EC") { ctx throws(CryptoError) in
            guard EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, curve.nid) > 0 else { throw CryptoError.fromQueue() }
        }
        replace(with: key, publicOnly: false)
    }

    /// Checks an RSA private key's consistency (`PKey.check`, backed by `EVP_PKEY_check`): returns true, or
    /// throws `.openSSL` with the reasons the key is broken.
    ///
    /// Refusals, kept distinct as pyOpenSSL does:
    /// - an empty container or a public-only key: `.invalidArgument` (there is no private half to check);
    /// - a key that is not RSA: `.unsupported("Only RSA keys can currently be checked.")`.
    public func check() throws -> Bool {
        guard let pointer else { throw CryptoError.invalidArgument("key is uninitialized: nothing to check") }
        if isPublicOnly { throw CryptoError.invalidArgument("public key only: check() needs the private half") }
        guard EVP_PKEY_get_base_id(pointer) == Crypto.TYPE_RSA else {
            throw CryptoError.unsupported("Only RSA keys can currently be checked.")
        }
        OpenSSLErrorQueue.clear()
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pointer, nil) else { throw CryptoError.fromQueue() }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_check(ctx) == 1 else { throw CryptoError.fromQueue() }
        return true
    }
}

extension Crypto {
    /// `EVP_PKEY_RSA` (6).
    public static let TYPE_RSA: Int32 = EVP_PKEY_RSA
    /// `EVP_PKEY_DSA` (116).
    public static let TYPE_DSA: Int32 = EVP_PKEY_DSA
    /// `EVP_PKEY_DH` (28).
    public static let TYPE_DH: Int32 = EVP_PKEY_DH
    /// `EVP_PKEY_EC` (408).
    public static let TYPE_EC: Int32 = EVP_PKEY_EC
    /// `EVP_PKEY_ED25519` (1087).
    public static let TYPE_ED25519: Int32 = EVP_PKEY_ED25519
    /// `EVP_PKEY_ED448` (1088).
    public static let TYPE_ED448: Int32 = EVP_PKEY_ED448
}

/// The `EVP_PKEY_CTX` keygen steps (`EVP_RSA_gen`/`EVP_EC_gen` are variadic macros Swift cannot call).
private enum KeyGeneration {
    /// Runs keygen for `algorithm`, letting `configure` set its parameters, and returns the new key (owned).
    static func generate(
        algorithm: String, configure: (OpaquePointer) throws(CryptoError) -> Void
    ) throws(CryptoError) -> OpaquePointer {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, algorithm, nil) else { throw CryptoError.fromQueue() }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_keygen_init(ctx) > 0 else { throw CryptoError.fromQueue() }
        try configure(ctx)
        var key: OpaquePointer?
        guard EVP_PKEY_generate(ctx, &key) > 0, let key else { throw CryptoError.fromQueue() }
        return key
    }

    /// DSA through the deprecated-but-present `DSA_generate_parameters_ex`/`DSA_generate_key`, as pyOpenSSL
    /// does: OpenSSL 3.0's provider keygen validates (L, N) against FIPS 186-4 and refuses the small sizes
    /// pyOpenSSL's tests use (512, 576 bits: "bad ffc parameters"), while the legacy path still accepts them.
    static func generateDSA(bits: Int32) throws(CryptoError) -> OpaquePointer {
        guard let dsa = DSA_new() else { throw CryptoError.fromQueue() }
        guard DSA_generate_parameters_ex(dsa, bits, nil, 0, nil, nil, nil) == 1, DSA_generate_key(dsa) == 1 else {
            DSA_free(dsa)
            throw CryptoError.fromQueue()
        }
        guard let key = EVP_PKEY_new() else {
            DSA_free(dsa)
            throw CryptoError.fromQueue()
        }
        // EVP_PKEY_assign takes over the DSA reference on success only.
        guard EVP_PKEY_assign(key, EVP_PKEY_DSA, UnsafeMutableRawPointer(dsa)) == 1 else {
            DSA_free(dsa)
            EVP_PKEY_free(key)
            throw CryptoError.fromQueue()
        }
        return key
    }
}
