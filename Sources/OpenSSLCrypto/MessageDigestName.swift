internal import COpenSSL

/// Resolves pyOpenSSL-style digest names ("sha256", "SHA256", "md5") to an `EVP_MD`.
enum MessageDigestName {
    /// The `const EVP_MD *` for `name` (static, never freed); an unknown name is `.invalidArgument`, as
    /// pyOpenSSL's `ValueError("No such digest method")`.
    static func lookup(_ name: String) throws(CryptoError) -> OpaquePointer {
        guard let md = EVP_get_digestbyname(name) else {
            OpenSSLErrorQueue.clear()
            throw CryptoError.invalidArgument("No such digest method: \(name)")
        }
        return md
    }
}
