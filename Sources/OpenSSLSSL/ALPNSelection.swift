/// What an ALPN select callback (`Context.setALPNSelectCallback`) decides for a ClientHello.
public enum ALPNSelection: Sendable, Hashable {
    /// Use this protocol. It must be one of the protocols the client offered (RFC 7301); anything else fails
    /// the handshake with `SSLError.invalidArgument`.
    case select([UInt8])
    /// Continue the handshake without ALPN (`SSL_TLSEXT_ERR_NOACK`; pyOpenSSL's `NO_OVERLAPPING_PROTOCOLS`).
    case noOverlap
    /// Fail the handshake with a fatal `no_application_protocol` alert (pyOpenSSL's empty-bytes return).
    case abort
}
