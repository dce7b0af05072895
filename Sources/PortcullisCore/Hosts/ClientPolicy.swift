/// The names a verified client certificate carries, as the allow-list sees them.
public struct ClientIdentity: Sendable, Equatable {
    /// Subject commonName values.
    public var commonNames: [String]
    /// subjectAltName dNSName entries.
    public var dnsNames: [String]
    /// subjectAltName uniformResourceIdentifier entries (SPIFFE IDs look like `spiffe://trust.domain/path`).
    public var uris: [String]
    /// Subject organizationalUnitName values.
    public var organizationalUnits: [String]

    public init(commonNames: [String] = [], dnsNames: [String] = [], uris: [String] = [], organizationalUnits: [String] = []) {
        self.commonNames = commonNames
        self.dnsNames = dnsNames
        self.uris = uris
        self.organizationalUnits = organizationalUnits
    }
}

/// A host's client-certificate policy: the verify mode and the allow-list.
///
/// Allow-list semantics (as ghostunnel and stunnel >= 5.48): the certificate passes when ANY entry of ANY list
/// matches. With all lists empty every certificate that verified passes.
/// - `allow_cn`, `allow_ou`: exact, case-sensitive (X.509 attribute values are compared as written).
/// - `allow_dns`: case-insensitive; `*.example.com` matches one label, as for SNI.
/// - `allow_uri`: exact; a pattern ending in `*` matches any URI starting with the text before the `*`
///   (`spiffe://corp.example/ns/prod/*`).
public struct ClientPolicy: Sendable, Equatable {
    public var verify: ClientVerifyMode
    public var allowCommonNames: [String]
    public var allowDNSNames: [String]
    public var allowURIs: [String]
    public var allowOrganizationalUnits: [String]

    public init(_ configuration: ClientPolicyConfiguration) {
        verify = configuration.verify
        allowCommonNames = configuration.allowCommonNames
        allowDNSNames = configuration.allowDNSNames.map { $0.lowercased() }
        allowURIs = configuration.allowURIs
        allowOrganizationalUnits = configuration.allowOrganizationalUnits
    }

    /// True when at least one allow-list entry is configured.
    public var hasAllowList: Bool {
        !(allowCommonNames.isEmpty && allowDNSNames.isEmpty && allowURIs.isEmpty && allowOrganizationalUnits.isEmpty)
    }

    /// Applies the allow-list to an already verified identity. Returns the entry that matched (for the log),
    /// or nil when nothing matched. With no allow-list, returns `"*"`.
    public func matchingEntry(for identity: ClientIdentity) -> String? {
        guard hasAllowList else { return "*" }
        for cn in identity.commonNames where allowCommonNames.contains(cn) { return "cn=\(cn)" }
        for ou in identity.organizationalUnits where allowOrganizationalUnits.contains(ou) { return "ou=\(ou)" }
        for dns in identity.dnsNames {
            let name = dns.lowercased()
            for pattern in allowDNSNames where Self.dnsMatches(pattern: pattern, name: name) { return "dns=\(dns)" }
        }
        for uri in identity.uris {
            for pattern in allowURIs where Self.uriMatches(pattern: pattern, uri: uri) { return "uri=\(uri)" }
        }
        return nil
    }

    /// One-label wildcard match (`*.example.com` matches `a.example.com` only); both sides lower-case.
    static func dnsMatches(pattern: String, name: String) -> Bool {
        if pattern == name { return true }
        guard pattern.hasPrefix("*."), let dot = name.firstIndex(of: "."), dot != name.startIndex else { return false }
        return name[name.index(after: dot)...] == pattern.dropFirst(2)
    }

    /// Exact, or prefix when the pattern ends in `*`.
    static func uriMatches(pattern: String, uri: String) -> Bool {
        if pattern.hasSuffix("*") { return uri.hasPrefix(pattern.dropLast()) }
        return pattern == uri
    }

    /// A stable description of everything that makes a client acceptable, hashed into the session-id
    /// context so that a session is only resumed on a host with the same policy.
    func fingerprintText(caFile: String?, caDirectory: String?, crlFile: String?, depth: Int) -> String {
        [
            "verify=\(verify.rawValue)", "ca=\(caFile ?? "")", "capath=\(caDirectory ?? "")", "crl=\(crlFile ?? "")",
            "depth=\(depth)", "cn=\(allowCommonNames.joined(separator: ","))", "dns=\(allowDNSNames.joined(separator: ","))",
            "uri=\(allowURIs.joined(separator: ","))", "ou=\(allowOrganizationalUnits.joined(separator: ","))",
        ].joined(separator: "\n")
    }
}
