import OpenSSLSSL

// `client_crl_file` needs X509Store flags (CRL_CHECK) from the `crypto-x509` branch, which does not merge
// cleanly into this branch yet. Until it does, a configuration using it is refused with a clear message
// rather than silently served without revocation checks.

extension CredentialLoader {
    static func installCRL(_ path: String, into context: Context) throws {
        throw Failure(description: "client_crl_file is not supported by this build (needs X509Store flags from OpenSSLCrypto)")
    }
}
