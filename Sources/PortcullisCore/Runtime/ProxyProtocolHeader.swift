/// The PROXY protocol header Portcullis sends first on a backend connection, so the backend learns who the
/// client really is. Byte layout per HAProxy's `doc/proxy-protocol.txt` (version 1: section 2.1; version 2:
/// section 2.2, TLVs 2.2.1, 2.2.2 and 2.2.6).
///
/// The client certificate (`proxy_client_certificate`) travels as sub-TLV 0x28 of `PP2_TYPE_SSL`, holding the
/// leaf's DER encoding: ghostunnel's `tls-full` mode (`PP2_SUBTYPE_SSL_CLIENT_CERT`), which go-proxyproto and
/// other PROXY parsers read. The spec has no standard type for it; hitch's alternative, the PEM text in the
/// custom top-level type 0xE0, sits in the range the spec leaves to each application (so it can clash) and is a
/// third larger.
public enum ProxyProtocolHeader {
    /// The TLS facts a version 2 header carries in its `PP2_TYPE_SSL` TLV.
    public struct TLSDetails: Sendable, Equatable {
        /// The negotiated protocol, as OpenSSL names it (`TLSv1.3`): sub-TLV `PP2_SUBTYPE_SSL_VERSION`.
        public var version: String
        /// The cipher name (`TLS_AES_128_GCM_SHA256`): sub-TLV `PP2_SUBTYPE_SSL_CIPHER`.
        public var cipher: String?
        /// The client sent a certificate in this connection's handshake (`PP2_CLIENT_CERT_CONN`).
        public var certificateOnConnection: Bool
        /// The TLS session carries a client certificate (also true on resumption; `PP2_CLIENT_CERT_SESS`).
        public var certificateInSession: Bool
        /// 0 when the client presented a certificate and it verified; non-zero otherwise (the spec's
        /// `verify` field; we send the X509_V_* code, or 1 when there was no certificate).
        public var verifyResult: UInt32
        /// The verified client certificate's subject commonName: sub-TLV `PP2_SUBTYPE_SSL_CN`.
        public var commonName: String?
        /// The verified client certificate (the leaf, DER): sub-TLV `PP2_SUBTYPE_SSL_CLIENT_CERT` (0x28).
        public var clientCertificate: [UInt8]?

        public init(version: String, cipher: String?, certificateOnConnection: Bool, certificateInSession: Bool,
                    verifyResult: UInt32, commonName: String?, clientCertificate: [UInt8]? = nil) {
            self.version = version
            self.cipher = cipher
            self.certificateOnConnection = certificateOnConnection
            self.certificateInSession = certificateInSession
            self.verifyResult = verifyResult
            self.commonName = commonName
            self.clientCertificate = clientCertificate
        }
    }

    /// The 12-byte version 2 signature.
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    // TLV types (section 2.2).
    static let typeALPN: UInt8 = 0x01
    static let typeAuthority: UInt8 = 0x02
    static let typeSSL: UInt8 = 0x20
    static let subtypeSSLVersion: UInt8 = 0x21
    static let subtypeSSLCommonName: UInt8 = 0x22
    static let subtypeSSLCipher: UInt8 = 0x23
    /// Not in the spec; ghostunnel's (and go-proxyproto's) `PP2_SUBTYPE_SSL_CLIENT_CERT`.
    static let subtypeSSLClientCertificate: UInt8 = 0x28
    // `client` bits of PP2_TYPE_SSL (section 2.2.6).
    static let clientSSL: UInt8 = 0x01
    static let clientCertificateConnection: UInt8 = 0x02
    static let clientCertificateSession: UInt8 = 0x04

    /// Version 1: `PROXY TCP4 <src> <dst> <sport> <dport>\r\n` (or `TCP6`). Addresses of any other family, or of
    /// two different families, give `PROXY UNKNOWN\r\n`. IPv4-mapped IPv6 addresses (a dual-stack listener's
    /// IPv4 clients) are sent as `TCP4`.
    public static func v1(source: SocketAddress, destination: SocketAddress) -> [UInt8] {
        let (source, destination) = normalized(source, destination)
        let protocolName: String
        switch (source.family, destination.family) {
        case (.ipv4, .ipv4): protocolName = "TCP4"
        case (.ipv6, .ipv6): protocolName = "TCP6"
        default: return Array("PROXY UNKNOWN\r\n".utf8)
        }
        let line = "PROXY \(protocolName) \(source.hostText) \(destination.hostText) \(source.port ?? 0) \(destination.port ?? 0)\r\n"
        return Array(line.utf8)
    }

    /// Version 2, command PROXY, over TCP/IPv4 (`\x11`) or TCP/IPv6 (`\x21`); `AF_UNSPEC` (`\x00`, no address
    /// block) for anything else. TLVs, in this order, each only when there is something to say:
    /// `PP2_TYPE_ALPN` (the negotiated protocol), `PP2_TYPE_AUTHORITY` (the SNI name), `PP2_TYPE_SSL` with its
    /// version, commonName, cipher and client-certificate sub-TLVs. Returns nil if the header would exceed the
    /// 16-bit length.
    public static func v2(
        source: SocketAddress,
        destination: SocketAddress,
        alpn: [UInt8] = [],
        authority: [UInt8] = [],
        tls: TLSDetails? = nil
    ) -> [UInt8]? {
        let (source, destination) = normalized(source, destination)
        var body: [UInt8] = []
        let familyByte: UInt8
        switch (source.family, destination.family) {
        case (.ipv4, .ipv4):
            familyByte = 0x11
            body += source.addressBytes + destination.addressBytes
            appendUInt16(&body, source.port ?? 0)
            appendUInt16(&body, destination.port ?? 0)
        case (.ipv6, .ipv6):
            familyByte = 0x21
            body += source.addressBytes + destination.addressBytes
            appendUInt16(&body, source.port ?? 0)
            appendUInt16(&body, destination.port ?? 0)
        default:
            familyByte = 0x00
        }
        if !alpn.isEmpty { guard appendTLV(&body, type: typeALPN, value: alpn) else { return nil } }
        if !authority.isEmpty { guard appendTLV(&body, type: typeAuthority, value: authority) else { return nil } }
        if let tls {
            var client = clientSSL
            if tls.certificateOnConnection { client |= clientCertificateConnection }
            if tls.certificateInSession { client |= clientCertificateSession }
            var value: [UInt8] = [client]
            appendUInt32(&value, tls.verifyResult)
            guard appendTLV(&value, type: subtypeSSLVersion, value: Array(tls.version.utf8)) else { return nil }
            if let commonName = tls.commonName, !commonName.isEmpty {
                guard appendTLV(&value, type: subtypeSSLCommonName, value: Array(commonName.utf8)) else { return nil }
            }
            if let cipher = tls.cipher, !cipher.isEmpty {
                guard appendTLV(&value, type: subtypeSSLCipher, value: Array(cipher.utf8)) else { return nil }
            }
            if let certificate = tls.clientCertificate, !certificate.isEmpty {
                guard appendTLV(&value, type: subtypeSSLClientCertificate, value: certificate) else { return nil }
            }
            guard appendTLV(&body, type: typeSSL, value: value) else { return nil }
        }
        guard body.count <= Int(UInt16.max) else { return nil }
        var header = v2Signature
        header.reserveCapacity(16 + body.count)
        header.append(0x21)  // version 2, command PROXY
        header.append(familyByte)
        appendUInt16(&header, UInt16(body.count))
        header += body
        return header
    }

    /// Both addresses as plain IPv4 when both are IPv4-mapped IPv6.
    private static func normalized(_ source: SocketAddress, _ destination: SocketAddress) -> (SocketAddress, SocketAddress) {
        if let source4 = source.unmappedIPv4, let destination4 = destination.unmappedIPv4 { return (source4, destination4) }
        return (source, destination)
    }

    private static func appendUInt16(_ bytes: inout [UInt8], _ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    private static func appendUInt32(_ bytes: inout [UInt8], _ value: UInt32) {
        bytes.append(UInt8(value >> 24))
        bytes.append(UInt8((value >> 16) & 0xFF))
        bytes.append(UInt8((value >> 8) & 0xFF))
        bytes.append(UInt8(value & 0xFF))
    }

    private static func appendTLV(_ bytes: inout [UInt8], type: UInt8, value: [UInt8]) -> Bool {
        guard value.count <= Int(UInt16.max) else { return false }
        bytes.append(type)
        appendUInt16(&bytes, UInt16(value.count))
        bytes += value
        return true
    }
}
