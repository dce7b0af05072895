internal import COpenSSL
internal import COpenSSLShim

extension SSL {
    /// A protocol family for `Context(method:)`, with pyOpenSSL's own small integers (3...12) as raw values.
    /// These are not OpenSSL constants. pyOpenSSL's `SSLv2_METHOD` (1) and `SSLv3_METHOD` (2) have no case:
    /// OpenSSL 3.0 on this system cannot speak either, and `Context(methodRawValue:)` rejects them with
    /// `SSLError.unsupported`.
    public enum Method: Int32, Sendable, CaseIterable {
        /// Version-flexible TLS; an alias of `.tls` kept for pyOpenSSL's `SSLv23_METHOD`.
        case sslv23 = 3
        /// TLS 1.0 only (min = max = TLS 1.0). Needs `@SECLEVEL=0` in the cipher list to handshake on 3.0.
        case tlsv1 = 4
        /// TLS 1.1 only (min = max = TLS 1.1). Needs `@SECLEVEL=0` in the cipher list to handshake on 3.0.
        case tlsv1_1 = 5
        /// TLS 1.2 only (min = max = TLS 1.2).
        case tlsv1_2 = 6
        /// Version-flexible TLS, client or server (`TLS_method`).
        case tls = 7
        /// Version-flexible TLS, server only (`TLS_server_method`).
        case tlsServer = 8
        /// Version-flexible TLS, client only (`TLS_client_method`).
        case tlsClient = 9
        /// Version-flexible DTLS (`DTLS_method`).
        case dtls = 10
        /// DTLS, server only.
        case dtlsServer = 11
        /// DTLS, client only.
        case dtlsClient = 12

        /// The `SSL_METHOD *` and the version pin (0 = none) pyOpenSSL applies for this value.
        var openSSLMethod: (method: OpaquePointer, pinnedVersion: Int32) {
            switch self {
            case .sslv23, .tls: return (TLS_method(), 0)
            case .tlsv1: return (TLS_method(), COpenSSL.TLS1_VERSION)
            case .tlsv1_1: return (TLS_method(), COpenSSL.TLS1_1_VERSION)
            case .tlsv1_2: return (TLS_method(), COpenSSL.TLS1_2_VERSION)
            case .tlsServer: return (TLS_server_method(), 0)
            case .tlsClient: return (TLS_client_method(), 0)
            case .dtls: return (DTLS_method(), 0)
            case .dtlsServer: return (DTLS_server_method(), 0)
            case .dtlsClient: return (DTLS_client_method(), 0)
            }
        }

        /// True for the DTLS family.
        public var isDatagram: Bool { self == .dtls || self == .dtlsServer || self == .dtlsClient }
    }

    /// pyOpenSSL's historic number for SSLv2; always refused (OpenSSL 3.0 has no SSLv2).
    @available(*, deprecated, message: "SSLv2 is not available in OpenSSL 3.0; Context(methodRawValue:) throws .unsupported")
    public static let SSLv2_METHOD: Int32 = 1
    /// pyOpenSSL's historic number for SSLv3; always refused (Debian's libssl is built without SSLv3).
    @available(*, deprecated, message: "SSLv3 is not available in OpenSSL 3.0; Context(methodRawValue:) throws .unsupported")
    public static let SSLv3_METHOD: Int32 = 2
    public static let SSLv23_METHOD = Method.sslv23
    public static let TLSv1_METHOD = Method.tlsv1
    public static let TLSv1_1_METHOD = Method.tlsv1_1
    public static let TLSv1_2_METHOD = Method.tlsv1_2
    public static let TLS_METHOD = Method.tls
    public static let TLS_SERVER_METHOD = Method.tlsServer
    public static let TLS_CLIENT_METHOD = Method.tlsClient
    public static let DTLS_METHOD = Method.dtls
    public static let DTLS_SERVER_METHOD = Method.dtlsServer
    public static let DTLS_CLIENT_METHOD = Method.dtlsClient
}
