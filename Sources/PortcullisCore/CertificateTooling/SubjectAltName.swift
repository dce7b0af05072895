internal import Glibc

/// One subjectAltName entry for `portcullis cert` (DNS name, IP address, URI or e-mail address), with the
/// checks that keep OpenSSL's `subjectAltName` configuration syntax unambiguous.
public enum SubjectAltName: Equatable, Sendable, CustomStringConvertible {
    case dns(String)
    case ip(String)
    case uri(String)
    case email(String)

    /// `DNS:x`, `IP:x`, `URI:x`, `email:x` (the prefix case-insensitive), or a bare value: an IPv4 or IPv6
    /// address becomes an IP entry, anything else a DNS name.
    public init(parsing text: String) throws {
        let value: String
        if let colon = text.firstIndex(of: ":"), case let prefix = text[..<colon].lowercased(),
           ["dns", "ip", "uri", "email"].contains(prefix) {
            value = String(text[text.index(after: colon)...])
            switch prefix {
            case "dns": self = .dns(value)
            case "ip": self = .ip(value)
            case "uri": self = .uri(value)
            default: self = .email(value)
            }
        } else {
            value = text
            self = Self.isIPAddress(text) ? .ip(text) : .dns(text)
        }
        try validate()
    }

    /// A DNS or IP entry for a server name given on the command line.
    public static func forName(_ name: String) throws -> SubjectAltName {
        let entry: SubjectAltName = isIPAddress(name) ? .ip(name) : .dns(name)
        try entry.validate()
        return entry
    }

    /// The value without its kind.
    public var value: String {
        switch self {
        case .dns(let value), .ip(let value), .uri(let value), .email(let value): return value
        }
    }

    /// OpenSSL's configuration syntax for the entry (`DNS:www.example.com`).
    public var description: String {
        switch self {
        case .dns(let value): return "DNS:\(value)"
        case .ip(let value): return "IP:\(value)"
        case .uri(let value): return "URI:\(value)"
        case .email(let value): return "email:\(value)"
        }
    }

    /// The `subjectAltName` extension value for `entries`.
    static func configValue(_ entries: [SubjectAltName]) -> String {
        entries.map(\.description).joined(separator: ",")
    }

    private func validate() throws {
        let value = self.value
        guard !value.isEmpty else { throw CertificateToolError("empty subjectAltName entry '\(self)'") }
        // OpenSSL's syntax separates entries with commas and has no escaping.
        guard !value.contains(","), !value.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else {
            throw CertificateToolError("subjectAltName entry '\(value)' contains a comma, a space or a control character")
        }
        switch self {
        case .dns(let name):
            let labels = name.split(separator: ".", omittingEmptySubsequences: false)
            let valid = name.utf8.count <= 253 && labels.allSatisfy { label in
                !label.isEmpty && label.utf8.count <= 63 && (label == "*" || label.utf8.allSatisfy {
                    ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F
                })
            }
            guard valid, !labels.dropFirst().contains("*") else {
                throw CertificateToolError("'\(name)' is not a DNS name (letters, digits, '-', dots; '*' only as the whole first label)")
            }
        case .ip(let address):
            guard Self.isIPAddress(address) else { throw CertificateToolError("'\(address)' is not an IPv4 or IPv6 address") }
        case .uri(let uri):
            guard let colon = uri.firstIndex(of: ":"), colon != uri.startIndex else {
                throw CertificateToolError("'\(uri)' is not a URI (expected scheme:..., e.g. spiffe://example.org/service)")
            }
        case .email(let address):
            guard address.contains("@") else { throw CertificateToolError("'\(address)' is not an e-mail address") }
        }
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
