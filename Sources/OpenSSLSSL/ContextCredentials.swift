internal import COpenSSL
internal import COpenSSLShim
public import OpenSSLCrypto

/// The Context's own certificate, chain and private key.
extension Context {
    /// Uses `certificate` as this Context's certificate (`SSL_CTX_use_certificate`). An empty certificate, or
    /// one whose key security level 2 refuses (RSA < 2048 bits: "ee key too small"), throws.
    public func useCertificate(_ certificate: X509) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_use_certificate(pointer, certificate.pointer) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_use_certificate")
        }
    }

    /// Loads the certificate from a PEM or DER file (`SSL_CTX_use_certificate_file`).
    public func useCertificateFile(_ path: String, type: FileType = .pem) throws {
        try ensureMutable()
        guard type != .text else { throw SSLError.invalidArgument("filetype must be FILETYPE_PEM or FILETYPE_ASN1") }
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_use_certificate_file(pointer, path, type.rawValue) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_use_certificate_file")
        }
    }

    /// Loads the leaf certificate followed by its chain from one PEM file (`SSL_CTX_use_certificate_chain_file`).
    public func useCertificateChainFile(_ path: String) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        let ok = try passwordBox.run { SSL_CTX_use_certificate_chain_file(pointer, path) }
        guard ok == 1 else { throw SSLError.fromQueue("SSL_CTX_use_certificate_chain_file") }
    }

    /// Appends a certificate sent after the leaf (`SSL_CTX_add_extra_chain_cert`). The Context keeps its own
    /// reference, so `certificate` may be released or reused afterwards.
    public func addExtraChainCert(_ certificate: X509) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        X509_up_ref(certificate.pointer)
        guard portcullis_SSL_CTX_add_extra_chain_cert(pointer, certificate.pointer) == 1 else {
            X509_free(certificate.pointer)
            throw SSLError.fromQueue("SSL_CTX_add_extra_chain_cert")
        }
    }

    /// Uses `key` as this Context's private key (`SSL_CTX_use_PrivateKey`). A key that does not match the
    /// certificate already loaded throws ("key values mismatch").
    public func usePrivateKey(_ key: PKey) throws {
        try ensureMutable()
        guard let keyPointer = key.pointer else { throw SSLError.invalidArgument("the PKey holds no key") }
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_use_PrivateKey(pointer, keyPointer) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_use_PrivateKey")
        }
    }

    /// Loads the private key from a PEM or DER file (`SSL_CTX_use_PrivateKey_file`). An encrypted PEM key is
    /// decrypted with the `setPasswdCb` callback; without one it fails (never prompts). The callback's own
    /// error is rethrown unchanged.
    public func usePrivateKeyFile(_ path: String, type: FileType = .pem) throws {
        try ensureMutable()
        guard type != .text else { throw SSLError.invalidArgument("filetype must be FILETYPE_PEM or FILETYPE_ASN1") }
        OpenSSLErrorQueue.clear()
        let ok = try passwordBox.run { SSL_CTX_use_PrivateKey_file(pointer, path, type.rawValue) }
        guard ok == 1 else { throw SSLError.fromQueue("SSL_CTX_use_PrivateKey_file") }
    }

    /// Checks that the private key matches the certificate (`SSL_CTX_check_private_key`); throws on mismatch.
    /// Not a mutation: allowed on a frozen Context.
    public func checkPrivateKey() throws {
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_check_private_key(pointer) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_check_private_key")
        }
    }
}
