import OpenSSLSSL

// Two settings need OpenSSL wrapper APIs that are not merged into this branch yet (X509Store flags from
// `crypto-x509`, ticket keys from `ssl`). Until they are, a configuration using them is refused with a
// clear message rather than silently served without CRL checks or shared ticket keys.

enum TicketKeyFiles {
    static func install(_ files: [String], into context: Context) throws {
        throw CredentialLoader.Failure(description: "ticket_key_files is not supported by this build (needs OpenSSLSSL ticket keys)")
    }
}

extension CredentialLoader {
    static func installCRL(_ path: String, into context: Context) throws {
        throw Failure(description: "client_crl_file is not supported by this build (needs X509Store flags from OpenSSLCrypto)")
    }
}
