internal import COpenSSL
internal import COpenSSLShim
public import OpenSSLCrypto

/// Trust anchors, verification depth and the client CA list.
extension Context {
    /// Adds trust anchors from a PEM file and/or a c_rehash directory (`SSL_CTX_load_verify_locations`).
    /// At least one must be given; a missing or unreadable file throws.
    public func loadVerifyLocations(caFile: String?, caPath: String? = nil) throws {
        try ensureMutable()
        guard caFile != nil || caPath != nil else {
            throw SSLError.invalidArgument("caFile and caPath cannot both be nil")
        }
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_load_verify_locations(pointer, caFile, caPath) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_load_verify_locations")
        }
    }

    /// Trusts the system's default CA locations (`SSL_CTX_set_default_verify_paths`; on Debian
    /// `/usr/lib/ssl/certs` -> `/etc/ssl/certs`, overridable with `SSL_CERT_FILE`/`SSL_CERT_DIR`).
    public func setDefaultVerifyPaths() throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_set_default_verify_paths(pointer) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_set_default_verify_paths")
        }
    }

    /// Sets the maximum chain depth (`SSL_CTX_set_verify_depth`).
    public func setVerifyDepth(_ depth: Int32) throws {
        try ensureMutable()
        SSL_CTX_set_verify_depth(pointer, depth)
    }

    /// The maximum chain depth; -1 when never set (OpenSSL then allows 100).
    public func getVerifyDepth() -> Int32 { SSL_CTX_get_verify_depth(pointer) }

    /// A view of the Context's trust store (`SSL_CTX_get_cert_store`): certificates added to it become trust
    /// anchors for this Context. The view keeps the store alive.
    public func getCertStore() -> X509Store? {
        guard let store = SSL_CTX_get_cert_store(pointer) else { return nil }
        return X509Store(retaining: store)
    }

    /// Replaces the CA names sent in CertificateRequest with the names of every certificate in a PEM file
    /// (`SSL_load_client_CA_file`). Names only: this adds no trust. An empty or invalid file throws.
    public func loadClientCA(_ caFile: String) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        guard let names = SSL_load_client_CA_file(caFile) else {
            throw SSLError.fromQueue("SSL_load_client_CA_file")
        }
        SSL_CTX_set_client_CA_list(pointer, names)
    }

    /// Replaces the CA names sent in CertificateRequest (`SSL_CTX_set_client_CA_list`). The names are copied
    /// now, so later changes to them do not affect the Context.
    public func setClientCAList(_ names: [X509Name]) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        guard let stack = portcullis_sk_X509_NAME_new_null() else { throw SSLError.fromQueue("sk_X509_NAME_new_null") }
        for name in names {
            guard let copy = X509_NAME_dup(name.pointer) else {
                portcullis_sk_X509_NAME_pop_free(stack)
                throw SSLError.fromQueue("X509_NAME_dup")
            }
            guard portcullis_sk_X509_NAME_push(stack, copy) > 0 else {
                X509_NAME_free(copy)
                portcullis_sk_X509_NAME_pop_free(stack)
                throw SSLError.fromQueue("sk_X509_NAME_push")
            }
        }
        SSL_CTX_set_client_CA_list(pointer, stack)
    }

    /// Appends `certificate`'s subject to the CA names sent in CertificateRequest (`SSL_CTX_add_client_CA`).
    public func addClientCA(_ certificate: X509) throws {
        try ensureMutable()
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_add_client_CA(pointer, certificate.pointer) == 1 else {
            throw SSLError.fromQueue("SSL_CTX_add_client_CA")
        }
    }

    /// The CA names this Context sends in CertificateRequest (copies).
    public func getClientCAList() -> [X509Name] {
        guard let stack = SSL_CTX_get_client_CA_list(pointer) else { return [] }
        var names: [X509Name] = []
        for index in 0..<portcullis_sk_X509_NAME_num(stack) {
            if let name = portcullis_sk_X509_NAME_value(stack, index), let copy = X509_NAME_dup(name) {
                names.append(X509Name(owning: copy))
            }
        }
        return names
    }
}
