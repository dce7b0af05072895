import OpenSSLCrypto
import OpenSSLSSL

/// Why a client did not get through the TLS handshake and the host's policy: the `reason` label of
/// `portcullis_handshakes_total{result="failed"}`. A fixed set, so the label's cardinality is bounded whatever
/// clients send.
enum HandshakeFailureReason: String, CaseIterable, Sendable {
    /// The handshake did not complete within `handshake_timeout`.
    case timeout
    /// The client closed or reset the TCP connection during the handshake.
    case clientClosed = "client_closed"
    /// SNI selection refused the name (`strict_sni`, or no default host).
    case unrecognizedName = "unrecognized_name"
    /// OpenSSL refused the client certificate (none sent under `require`, or it did not verify).
    case clientCertificate = "client_certificate"
    /// No common protocol version (or a record version OpenSSL does not speak).
    case protocolVersion = "protocol_version"
    /// No common cipher suite, group or signature algorithm.
    case noSharedCipher = "no_shared_cipher"
    /// ALPN: the client offered none of the host's protocols.
    case noApplicationProtocol = "no_application_protocol"
    /// The client aborted the handshake with a TLS alert (often: it did not trust our certificate).
    case alert
    /// The client did not speak TLS at all (plain HTTP to the TLS port, garbage).
    case notTLS = "not_tls"
    /// The handshake completed but the table had no host for the connection.
    case noHost = "no_host"
    /// The handshake completed but the host's client-certificate policy (allow-list, verify result) refused.
    case policy
    /// Any other TLS failure.
    case other

    /// Index into per-worker counter arrays.
    var index: Int { Self.allCases.firstIndex(of: self)! }

    /// Classifies what `Connection.handshakeStep()` reported in `.failed(error)`. `verifyResult` is
    /// `Connection.getVerifyResult()` after the failure.
    static func classify(_ error: any Error, verifyResult: Int) -> HandshakeFailureReason {
        if error is HostSelectionError { return .unrecognizedName }
        guard let sslError = error as? SSLError else { return .other }
        if case .sysCall = sslError { return .clientClosed }
        let reasons = sslError.entries.map { $0.reason.lowercased() }
        func any(_ fragments: String...) -> Bool {
            reasons.contains { reason in fragments.contains { reason.contains($0) } }
        }
        if any("peer did not return a certificate", "certificate verify failed") || verifyResult != 0 {
            return .clientCertificate
        }
        if any("http request", "https proxy request") { return .notTLS }
        if any("alert") { return .alert }
        if any("unsupported protocol", "wrong version number", "version too low", "version too high",
               "unknown protocol", "tls version not") {
            return .protocolVersion
        }
        if any("no shared cipher", "no suitable signature algorithm", "no shared signature algorithms",
               "no suitable key share", "no shared groups") {
            return .noSharedCipher
        }
        if any("no application protocol") { return .noApplicationProtocol }
        if any("record layer failure", "packet length too long", "record length mismatch", "wrong version") {
            return .notTLS
        }
        return .other
    }
}
