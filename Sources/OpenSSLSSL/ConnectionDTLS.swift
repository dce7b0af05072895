internal import COpenSSL
internal import COpenSSLShim
internal import OpenSSLCrypto

// DTLS-only calls (a Context made with `SSL.Method.dtls*`, over memory BIOs).

extension Connection {
    /// Runs the stateless cookie exchange of a DTLS server (`DTLSv1_listen`): returns once a ClientHello with a
    /// valid cookie arrived (then call `doHandshake`), throws `wantRead` while it has not. Needs
    /// `SSL.OP_COOKIE_EXCHANGE` and the Context's cookie callbacks; a callback's own error is rethrown first.
    public func dtlsv1Listen() throws {
        OpenSSLErrorQueue.clear()
        if let error = takeCallbackError() { throw error }
        guard let address = BIO_ADDR_new() else { throw SSLError.fromQueue() }
        let result = DTLSv1_listen(pointer, address)
        BIO_ADDR_free(address)
        if let error = takeCallbackError() {
            OpenSSLErrorQueue.clear()
            throw error
        }
        if result == 1 { return }
        if result == 0 { throw SSLError.wantRead }
        let code = SSL_get_error(pointer, result)
        switch code {
        case SSL_ERROR_WANT_READ: throw SSLError.wantRead
        case SSL_ERROR_WANT_WRITE: throw SSLError.wantWrite
        default: throw SSLError.fromQueue()
        }
    }

    /// Seconds until `dtlsv1HandleTimeout()` is due (`DTLSv1_get_timeout`), or nil when no timer runs.
    public func dtlsv1GetTimeout() -> Double? {
        var seconds = 0
        var microseconds = 0
        guard portcullis_conn_DTLSv1_get_timeout(pointer, &seconds, &microseconds) == 1 else { return nil }
        return Double(seconds) + Double(microseconds) / 1_000_000
    }

    /// Handles an expired DTLS retransmission timer (`DTLSv1_handle_timeout`): true if a timeout was due and
    /// handled (data may now be waiting in the outgoing BIO), false if none was due.
    public func dtlsv1HandleTimeout() throws -> Bool {
        OpenSSLErrorQueue.clear()
        if let error = takeCallbackError() { throw error }
        let result = portcullis_conn_DTLSv1_handle_timeout(pointer)
        if let error = takeCallbackError() { throw error }
        guard result >= 0 else { throw SSLError.fromQueue() }
        return result > 0
    }

    /// Sets the path MTU for DTLS records (`set_ciphertext_mtu`, `SSL_set_mtu`). Required with
    /// `SSL.OP_NO_QUERY_MTU`: without a configured MTU OpenSSL 3.0 fails the first DTLS write without queuing
    /// an error (reported as `SSLError.unexpectedEOF`).
    public func setCiphertextMTU(_ mtu: Int) throws {
        OpenSSLErrorQueue.clear()
        guard portcullis_conn_SSL_set_mtu(pointer, mtu) > 0 else {
            if OpenSSLErrorQueue.isEmpty { throw SSLError.invalidArgument("MTU \(mtu) is too small for DTLS") }
            throw SSLError.fromQueue()
        }
    }

    /// The largest plaintext that fits in one DTLS record under the current MTU (`get_cleartext_mtu`,
    /// `DTLS_get_data_mtu`); 0 when unknown (before the cipher is chosen).
    public func getCleartextMTU() -> Int { DTLS_get_data_mtu(pointer) }
}
