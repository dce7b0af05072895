internal import COpenSSL

extension Crypto {
    /// Parses a PEM (possibly encrypted) or DER private key (`crypto.load_privatekey`).
    ///
    /// Never prompts: an encrypted PEM key without `passphrase` fails with `.openSSL`. A wrong passphrase is
    /// `.openSSL` with the drained queue; a passphrase with DER or a `.text` type is `.invalidArgument`; a
    /// passphrase longer than OpenSSL's buffer is `.invalidArgument` (never truncated); an error thrown by a
    /// `.callback` passphrase is rethrown unchanged.
    public static func loadPrivateKey(
        _ type: FileType, _ buffer: some Collection<UInt8>, passphrase: Passphrase? = nil
    ) throws -> PKey {
        OpenSSLErrorQueue.clear()
        let key: OpaquePointer?
        switch type {
        case .pem:
            let bio = try MemoryBIO(buffer)
            defer { withExtendedLifetime(bio) {} }  // the C call below reads bio.pointer after its last Swift use
            key = try PassphraseBox.with(passphrase) { userdata in
                PEM_read_bio_PrivateKey(bio.pointer, nil, passphraseTrampoline, userdata)
            }
        case .asn1:
            if passphrase != nil { throw CryptoError.invalidArgument("passphrase is only supported for PEM encoded private keys") }
            let bio = try MemoryBIO(buffer)
            defer { withExtendedLifetime(bio) {} }  // the C call below reads bio.pointer after its last Swift use
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

    /// Encodes a private key (`crypto.dump_privatekey`).
    ///
    /// - `.pem`: PKCS#8 (`BEGIN PRIVATE KEY`), or `BEGIN ENCRYPTED PRIVATE KEY` when `cipher` (an OpenSSL cipher
    ///   name such as `"aes-256-cbc"`) and `passphrase` are given.
    /// - `.asn1`: DER in the key's traditional form (PKCS#1 for RSA).
    /// - `.text`: `EVP_PKEY_print_private` output, RSA keys only.
    ///
    /// `.invalidArgument`: a cipher without a passphrase, a passphrase without a cipher (it would silently
    /// write the key unencrypted), a passphrase with a non-PEM type, an unknown cipher name, a non-RSA key with
    /// `.text`, an empty key. A cipher OpenSSL knows but only its legacy provider implements (for example
    /// `"blowfish"`) is `.unsupported`. Callback errors are rethrown unchanged.
    public static func dumpPrivateKey(
        _ type: FileType, _ key: PKey, cipher: String? = nil, passphrase: Passphrase? = nil
    ) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        let pkey = try key.requirePointer("dumpPrivateKey")
        if passphrase != nil && type != .pem {
            throw CryptoError.invalidArgument("passphrase is only supported for PEM encoded private keys")
        }
        if cipher != nil && passphrase == nil {
            throw CryptoError.invalidArgument("if a value is given for cipher one must also be given for passphrase")
        }
        if cipher == nil && passphrase != nil {
            throw CryptoError.invalidArgument("a passphrase needs a cipher; without one the key would be written unencrypted")
        }
        let bio = try MemoryBIO()
        let ok: Int32
        switch type {
        case .pem:
            if let cipher, let passphrase {
                let evpCipher = try fetchCipher(cipher)
                defer { EVP_CIPHER_free(evpCipher) }
                ok = try PassphraseBox.with(passphrase) { userdata in
                    PEM_write_bio_PrivateKey(bio.pointer, pkey, evpCipher, nil, 0, passphraseTrampoline, userdata)
                }
            } else {
                ok = PEM_write_bio_PrivateKey(bio.pointer, pkey, nil, nil, 0, nil, nil)
            }
        case .asn1:
            ok = i2d_PrivateKey_bio(bio.pointer, pkey)
        case .text:
            guard EVP_PKEY_get_base_id(pkey) == Crypto.TYPE_RSA else {
                throw CryptoError.invalidArgument("Only RSA keys are supported for FILETYPE_TEXT")
            }
            ok = EVP_PKEY_print_private(bio.pointer, pkey, 0, nil)
        }
        guard ok == 1 else { throw CryptoError.fromQueue() }
        return bio.bytes()
    }

    /// Parses a SubjectPublicKeyInfo (`BEGIN PUBLIC KEY` PEM or DER) into a public-only key
    /// (`crypto.load_publickey`). `.text` is `.invalidArgument`; malformed data is `.openSSL`.
    public static func loadPublicKey(_ type: FileType, _ buffer: some Collection<UInt8>) throws -> PKey {
        OpenSSLErrorQueue.clear()
        let key: OpaquePointer?
        switch type {
        case .pem:
            let bio = try MemoryBIO(buffer)
            defer { withExtendedLifetime(bio) {} }  // the C call below reads bio.pointer after its last Swift use
            key = PEM_read_bio_PUBKEY(bio.pointer, nil, nil, nil)
        case .asn1:
            let bio = try MemoryBIO(buffer)
            defer { withExtendedLifetime(bio) {} }  // the C call below reads bio.pointer after its last Swift use
            key = d2i_PUBKEY_bio(bio.pointer, nil)
        case .text: throw CryptoError.invalidArgument("type argument must be FILETYPE_PEM or FILETYPE_ASN1")
        }
        guard let key else { throw CryptoError.fromQueue() }
        return PKey(owning: key, publicOnly: true)
    }

    /// Parses a public key given as PEM text.
    public static func loadPublicKey(_ type: FileType, _ text: String) throws -> PKey {
        try loadPublicKey(type, Array(text.utf8))
    }

    /// Encodes the public half of `key` as SubjectPublicKeyInfo PEM or DER (`crypto.dump_publickey`).
    /// `.text` and an empty key are `.invalidArgument`.
    public static func dumpPublicKey(_ type: FileType, _ key: PKey) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        let pkey = try key.requirePointer("dumpPublicKey")
        let bio = try MemoryBIO()
        let ok: Int32
        switch type {
        case .pem: ok = PEM_write_bio_PUBKEY(bio.pointer, pkey)
        case .asn1: ok = i2d_PUBKEY_bio(bio.pointer, pkey)
        case .text: throw CryptoError.invalidArgument("type argument must be FILETYPE_PEM or FILETYPE_ASN1")
        }
        guard ok == 1 else { throw CryptoError.fromQueue() }
        return bio.bytes()
    }

    /// Fetches an implementation of `name` from the loaded providers (the caller frees it). A name OpenSSL
    /// knows but no loaded provider implements is reported as unsupported rather than unknown.
    private static func fetchCipher(_ name: String) throws(CryptoError) -> OpaquePointer {
        if let cipher = EVP_CIPHER_fetch(nil, name, nil) { return cipher }
        OpenSSLErrorQueue.clear()
        if EVP_get_cipherbyname(name) != nil {
            throw CryptoError.unsupported(
                "cipher \(name) is only implemented by OpenSSL 3.0's legacy provider, which is not loaded; use for example aes-256-cbc")
        }
        throw CryptoError.invalidArgument("Invalid cipher name: \(name)")
    }
}
