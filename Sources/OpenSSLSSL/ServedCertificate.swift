internal import COpenSSL
internal import COpenSSLShim
package import OpenSSLCrypto

/// Which certificate a server connection presents, for a server that keeps per-certificate data (an OCSP
/// response per certificate) and must pick it inside a handshake callback without allocating.
extension Context {
    /// The certificate most recently installed (`SSL_CTX_get0_certificate`), retained: right after
    /// `useCertificateChainFile`, the leaf of that file. Nil before any certificate was installed.
    ///
    /// The object is the one the Context serves, so `Connection.presents(_:)` can compare it by identity.
    package func currentCertificate() -> X509? {
        guard let certificate = SSL_CTX_get0_certificate(pointer) else { return nil }
        return X509(retaining: certificate)
    }
}

extension Connection {
    /// True when this connection presents `certificate` itself, the object `Context.currentCertificate()`
    /// returned (`SSL_get_certificate`, compared by identity: no allocation, no lock). In the OCSP server
    /// callback that is the certificate OpenSSL selected for this client (RSA or ECDSA, from its signature
    /// algorithms), on the context SNI selection switched to.
    package func presents(_ certificate: X509) -> Bool {
        SSL_get_certificate(pointer) == certificate.pointer
    }

    /// Server side: true when this connection's handshake stapled an OCSP response (the server status
    /// callback returned one, which OpenSSL keeps until the connection is freed).
    package var stapledOCSPResponse: Bool {
        var response: UnsafePointer<UInt8>?
        return portcullis_SSL_get_tlsext_status_ocsp_resp(pointer, &response) > 0 && response != nil
    }
}
