internal import COpenSSL

extension Crypto {
    /// The message digest of `data` under the digest called `name` (one-shot `EVP_Digest`).
    ///
    /// pyOpenSSL has no such function (Python code uses `hashlib`); it is here so code built on this module
    /// never needs a hash of its own. `name` is anything `EVP_get_digestbyname` knows, in either case:
    /// `"sha256"`, `"SHA256"`, `"sha384"`, `"sha512"`, `"sha1"`, `"md5"`, `"sha3-256"`. The result has the
    /// digest's natural length (32 bytes for SHA-256); extendable-output digests (`"shake128"`) give their
    /// default length.
    ///
    /// - Throws: `.invalidArgument` for an unknown name (or one containing a NUL byte), as pyOpenSSL's
    ///   `ValueError("No such digest method")`; `.openSSL` when hashing fails (for example a digest the
    ///   active providers cannot fetch).
    public static func digest(_ name: String, _ data: some Collection<UInt8>) throws -> [UInt8] {
        guard !name.utf8.contains(0) else { throw CryptoError.invalidArgument("No such digest method: \(name)") }
        let md = try MessageDigestName.lookup(name)
        let input = Array(data)
        OpenSSLErrorQueue.clear()
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = input.withUnsafeBytes { bytes in
            EVP_Digest(bytes.baseAddress, bytes.count, &output, &length, md, nil)
        }
        guard ok == 1 else { throw CryptoError.fromQueue() }
        return Array(output.prefix(Int(length)))
    }
}
