internal import COpenSSL
internal import COpenSSLShim
public import OpenSSLCrypto

// Handshake state and certificates of both ends.

extension Connection {
    /// OpenSSL's long state string (`get_state_string`), e.g. "before SSL initialization" or
    /// "SSL negotiation finished successfully".
    public func getStateString() -> [UInt8] {
        guard let text = SSL_state_string_long(pointer) else { return [] }
        return Array(String(cString: text).utf8)
    }

    /// pyOpenSSL 0.14's `state_string()` (a stub then), replaced by `get_state_string()` in 16.0.0.
    @available(*, deprecated, renamed: "getStateString()")
    public func stateString() -> [UInt8] { getStateString() }

    /// The peer's leaf certificate (`get_peer_certificate`), or nil if it sent none.
    public func getPeerCertificate() -> X509? {
        guard let certificate = SSL_get1_peer_certificate(pointer) else { return nil }
        return X509(owning: certificate)
    }

    /// The certificates the peer sent (`get_peer_cert_chain`), or nil if it sent none.
    ///
    /// OpenSSL's asymmetry is kept: on a client the list starts with the server's leaf; on a server it
    /// excludes the client's leaf (use `getPeerCertificate()` for it), so a client that sent only its leaf
    /// gives an empty list. The chain is as sent, not verified: see `getVerifiedChain()`.
    public func getPeerCertChain() -> [X509]? {
        guard let stack = SSL_get_peer_cert_chain(pointer) else { return nil }
        return certificates(in: stack)
    }

    /// The verified chain from the peer's leaf to the trust anchor (`get_verified_chain`,
    /// `SSL_get0_verified_chain`), or nil when no verification produced one.
    public func getVerifiedChain() -> [X509]? {
        guard let stack = SSL_get0_verified_chain(pointer) else { return nil }
        return certificates(in: stack)
    }

    /// Copies a borrowed `STACK_OF(X509)` into owning wrappers (each takes its own reference).
    private func certificates(in stack: OpaquePointer) -> [X509] {
        let count = portcullis_sk_X509_num(stack)
        guard count > 0 else { return [] }
        return (0..<count).compactMap { index in
            portcullis_sk_X509_value(stack, index).map { X509(retaining: $0) }
        }
    }

    /// This end's certificate (`get_certificate`), or nil if none is configured.
    public func getCertificate() -> X509? {
        guard let certificate = SSL_get_certificate(pointer) else { return nil }
        return X509(retaining: certificate)
    }

    /// The peer verification result (`SSL_get_verify_result`): an `X509_V_*` code, `X509_V_OK` (0) when the
    /// peer's certificate verified or when no certificate was presented (check `getPeerCertificate()`).
    public func getVerifyResult() -> Int { SSL_get_verify_result(pointer) }

    /// The CA names of client-certificate requests (`get_client_ca_list`): on a server the names it will
    /// send, on a client the names the server sent (empty before the handshake). Each name is a copy.
    public func getClientCAList() throws -> [X509Name] {
        OpenSSLErrorQueue.clear()
        guard let stack = SSL_get_client_CA_list(pointer) else { return [] }
        let count = portcullis_conn_sk_X509_NAME_num(stack)
        var names: [X509Name] = []
        names.reserveCapacity(Int(Swift.max(count, 0)))
        for index in 0..<Swift.max(count, 0) {
            guard let name = portcullis_conn_sk_X509_NAME_value(stack, index) else { continue }
            guard let copy = X509_NAME_dup(name) else { throw SSLError.fromQueue() }
            names.append(X509Name(owning: copy))
        }
        return names
    }

    /// The shutdown state (`get_shutdown`): a combination of `SSL.SENT_SHUTDOWN` and `SSL.RECEIVED_SHUTDOWN`.
    public func getShutdown() -> Int32 { SSL_get_shutdown(pointer) }

    /// Forces the shutdown state bits (`set_shutdown`), for example to close without waiting for the
    /// peer's close_notify.
    public func setShutdown(_ state: Int32) { SSL_set_shutdown(pointer, state) }
}
