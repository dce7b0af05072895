internal import COpenSSL
internal import COpenSSLShim
public import OpenSSLCrypto

// Per-connection overrides of what the Context configured.

extension Connection {
    /// Uses `certificate` for this connection only (`Connection.use_certificate`).
    public func useCertificate(_ certificate: X509) throws {
        OpenSSLErrorQueue.clear()
        guard SSL_use_certificate(pointer, certificate.pointer) == 1 else { throw SSLError.fromQueue() }
    }

    /// Uses `key` for this connection only (`Connection.use_privatekey`). A key that does not match the
    /// certificate already in use fails with OpenSSL's error.
    public func usePrivateKey(_ key: PKey) throws {
        OpenSSLErrorQueue.clear()
        guard let keyPointer = key.pointer else { throw SSLError.invalidArgument("the PKey holds no key") }
        guard SSL_use_PrivateKey(pointer, keyPointer) == 1 else { throw SSLError.fromQueue() }
    }

    /// Adds `SSL.OP_*` bits for this connection (`Connection.set_options`); returns the resulting options.
    @discardableResult
    public func setOptions(_ options: UInt64) -> UInt64 { SSL_set_options(pointer, options) }

    /// Clears `SSL.OP_*` bits for this connection; returns the resulting options.
    @discardableResult
    public func clearOptions(_ options: UInt64) -> UInt64 { SSL_clear_options(pointer, options) }

    /// The options in force for this connection.
    public func getOptions() -> UInt64 { SSL_get_options(pointer) }

    /// Adds `SSL_MODE_*` bits for this connection (`SSL_set_mode`); returns the resulting mode.
    @discardableResult
    public func setMode(_ mode: Int) -> Int { portcullis_conn_SSL_set_mode(pointer, mode) }

    /// Clears `SSL_MODE_*` bits; returns the resulting mode. Clearing `ACCEPT_MOVING_WRITE_BUFFER` makes a
    /// retried write from a moved buffer fail with "bad write retry".
    @discardableResult
    public func clearMode(_ mode: Int) -> Int { portcullis_conn_SSL_clear_mode(pointer, mode) }

    /// The mode in force (`SSL_get_mode`): the Context's modes plus `SSL_MODE_AUTO_RETRY`.
    public func getMode() -> Int { portcullis_conn_SSL_get_mode(pointer) }

    /// Read-ahead for this connection (`SSL_set_read_ahead`; beyond pyOpenSSL): see `Context.setReadAhead`.
    public func setReadAhead(_ enabled: Bool) { SSL_set_read_ahead(pointer, enabled ? 1 : 0) }

    /// Whether read-ahead is on (inherited from the Context at creation unless set here).
    public func getReadAhead() -> Bool { SSL_get_read_ahead(pointer) != 0 }
}
