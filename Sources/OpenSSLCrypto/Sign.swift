internal import COpenSSL

extension Crypto {
    /// Signs `data` with `key` over `digest` (`crypto.sign`, via `EVP_DigestSign`): PKCS#1 v1.5 for RSA,
    /// DER-encoded ECDSA/DSA signatures otherwise.
    ///
    /// An unknown digest or an empty key is `.invalidArgument`; a public-only key is `.openSSL`.
    public static func sign(key: PKey, data: some Collection<UInt8>, digest: String) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        let md = try MessageDigestName.lookup(digest)
        let pkey = try key.requirePointer("sign")
        if key.isPublicOnly { throw CryptoError.invalidArgument("sign: the key has only a public part") }
        guard let ctx = EVP_MD_CTX_new() else { throw CryptoError.fromQueue() }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, md, nil, pkey) == 1 else { throw CryptoError.fromQueue() }
        let message = Array(data)
        var length = 0
        let sized = message.withUnsafeBufferPointer { EVP_DigestSign(ctx, nil, &length, $0.baseAddress, $0.count) }
        guard sized == 1 else { throw CryptoError.fromQueue() }
        var signature = [UInt8](repeating: 0, count: length)
        let signed = signature.withUnsafeMutableBufferPointer { out in
            message.withUnsafeBufferPointer { EVP_DigestSign(ctx, out.baseAddress, &length, $0.baseAddress, $0.count) }
        }
        guard signed == 1 else { throw CryptoError.fromQueue() }
        signature.removeSubrange(length...)
        return signature
    }

    /// Verifies that `signature` was made over `data` and `digest` by the key certified by `cert`
    /// (`crypto.verify`). Returns normally on success; a mismatch (wrong key, tampered data) is `.openSSL`,
    /// an unknown digest `.invalidArgument`.
    public static func verify(
        cert: X509, signature: some Collection<UInt8>, data: some Collection<UInt8>, digest: String
    ) throws {
        OpenSSLErrorQueue.clear()
        let md = try MessageDigestName.lookup(digest)
        guard let pkey = X509_get_pubkey(cert.pointer) else { throw CryptoError.fromQueue() }
        defer { EVP_PKEY_free(pkey) }
        guard let ctx = EVP_MD_CTX_new() else { throw CryptoError.fromQueue() }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, md, nil, pkey) == 1 else { throw CryptoError.fromQueue() }
        let message = Array(data)
        let sig = Array(signature)
        let result = sig.withUnsafeBufferPointer { sigBuffer in
            message.withUnsafeBufferPointer {
                EVP_DigestVerify(ctx, sigBuffer.baseAddress, sigBuffer.count, $0.baseAddress, $0.count)
            }
        }
        guard result == 1 else { throw CryptoError.fromQueue() }
    }
}
