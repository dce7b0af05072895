/// One entry of a subjectAltName (or issuerAltName) extension, an X.509 `GeneralName`, as
/// `X509.subjectAltNames()` reads it.
///
/// Text values are the IA5String bytes as stored, decoded as UTF-8 (IA5 is ASCII; a non-ASCII byte decodes
/// to U+FFFD). Nothing is unescaped or split, and an embedded NUL is kept, so a value cannot pass itself off
/// as a different name.
public enum GeneralName: Hashable, Sendable, CustomStringConvertible {
    /// `dNSName`, e.g. `www.example.com` or `*.example.com`.
    case dns(String)
    /// `uniformResourceIdentifier`, e.g. a SPIFFE ID `spiffe://trust.domain/workload`.
    case uri(String)
    /// `rfc822Name` (an e-mail address).
    case email(String)
    /// `iPAddress`: 4 (IPv4) or 16 (IPv6) bytes in network order, as stored.
    case ip([UInt8])
    /// `otherName`, `x400Address`, `directoryName`, `ediPartyName` or `registeredID`.
    case other

    /// The form `openssl x509 -text` prints: `DNS:a.example`, `URI:...`, `email:...`, `IP:192.0.2.1`,
    /// `IP:2001:DB8:0:0:0:0:0:1`, `other`.
    public var description: String {
        switch self {
        case .dns(let name): return "DNS:\(name)"
        case .uri(let uri): return "URI:\(uri)"
        case .email(let address): return "email:\(address)"
        case .ip(let bytes) where bytes.count == 4: return "IP:" + bytes.map(String.init).joined(separator: ".")
        case .ip(let bytes) where bytes.count == 16:
            let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16, uppercase: true) }
            return "IP:" + groups.joined(separator: ":")
        case .ip(let bytes): return "IP:<\(bytes.count) bytes>"
        case .other: return "other"
        }
    }
}
