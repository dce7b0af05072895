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
    /// subjectAltName rfc822Name entries.
    public var emails: [String]
    /// Subject emailAddress (PKCS #9) values; `allow_email` reads them only when `emails` is empty.
    public var subjectEmails: [String]
    /// subjectAltName iPAddress entries: 4 (IPv4) or 16 (IPv6) bytes as stored.
    public var ipAddresses: [[UInt8]]
    /// SHA-256 of the DER SubjectPublicKeyInfo; read only when the policy has `allow_spki_sha256` entries.
    public var publicKeySHA256: [UInt8]?

    public init(commonNames: [String] = [], dnsNames: [String] = [], uris: [String] = [], organizationalUnits: [String] = [],
                emails: [String] = [], subjectEmails: [String] = [], ipAddresses: [[UInt8]] = [],
                publicKeySHA256: [UInt8]? = nil) {
        self.commonNames = commonNames
        self.dnsNames = dnsNames
        self.uris = uris
        self.organizationalUnits = organizationalUnits
        self.emails = emails
        self.subjectEmails = subjectEmails
        self.ipAddresses = ipAddresses
        self.publicKeySHA256 = publicKeySHA256
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
/// - `allow_email`: subjectAltName rfc822Name entries, or (as OpenSSL's `X509_check_email`, which stunnel's
///   `checkEmail` uses) the subject emailAddress when the certificate has no rfc822Name at all. The local part
///   is compared exactly, the domain (after the last `@`) case-insensitively.
/// - `allow_ip`: subjectAltName iPAddress entries compared as binary addresses against addresses or CIDR
///   networks (`NetworkPrefix`: an IPv4 entry also matches the IPv4-mapped IPv6 form).
/// - `allow_spki_sha256`: SHA-256 of the certificate's DER SubjectPublicKeyInfo (HPKP-style pins), so a pin
///   survives a renewal that keeps the key.
public struct ClientPolicy: Sendable, Equatable {
    public var verify: ClientVerifyMode
    public var allowCommonNames: [String]
    public var allowDNSNames: [String]
    public var allowURIs: [String]
    public var allowOrganizationalUnits: [String]
    /// `allow_email` as written (for the fingerprint) and split for matching: local part, lower-cased domain.
    public var allowEmails: [String]
    let emailPatterns: [EmailAddress]
    public var allowIPs: [NetworkPrefix]
    /// `allow_spki_sha256` as written (base64) and decoded (32 bytes each).
    public var allowPublicKeyPins: [String]
    let publicKeyPins: [[UInt8]]

    public init(_ configuration: ClientPolicyConfiguration) {
        verify = configuration.verify
        allowCommonNames = configuration.allowCommonNames
        allowDNSNames = configuration.allowDNSNames.map { $0.lowercased() }
        allowURIs = configuration.allowURIs
        allowOrganizationalUnits = configuration.allowOrganizationalUnits
        allowEmails = configuration.allowEmails
        emailPatterns = configuration.allowEmails.compactMap(EmailAddress.init)
        allowIPs = configuration.allowIPs
        allowPublicKeyPins = configuration.allowPublicKeyPins
        publicKeyPins = configuration.allowPublicKeyPins.compactMap(PublicKeyPin.decode)
    }

    /// True when at least one allow-list entry is configured.
    public var hasAllowList: Bool {
        !(allowCommonNames.isEmpty && allowDNSNames.isEmpty && allowURIs.isEmpty && allowOrganizationalUnits.isEmpty
          && allowEmails.isEmpty && allowIPs.isEmpty && allowPublicKeyPins.isEmpty)
    }

    /// True when the policy needs the certificate's public-key hash (computed only then: it costs a DER
    /// encoding and a digest per handshake).
    public var needsPublicKeyPin: Bool { !publicKeyPins.isEmpty }

    /// Applies the allow-list to an already verified identity. Returns the entry that matched (for the log:
    /// `cn=...`, `ou=...`, `dns=...`, `uri=...`, `email=...`, `ip=...`, `spki=...`, naming the certificate's
    /// value), or nil when nothing matched. With no allow-list, returns `"*"`.
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
        if !emailPatterns.isEmpty {
            // X509_check_email's rule: the subject's emailAddress counts only without rfc822Name entries.
            for email in identity.emails.isEmpty ? identity.subjectEmails : identity.emails {
                guard let address = EmailAddress(email) else { continue }
                if emailPatterns.contains(address) { return "email=\(email)" }
            }
        }
        if !allowIPs.isEmpty {
            for bytes in identity.ipAddresses where allowIPs.contains(where: { $0.contains(addressBytes: bytes) }) {
                return "ip=\(NetworkPrefix.addressText(bytes))"
            }
        }
        if let pin = identity.publicKeySHA256, publicKeyPins.contains(pin) {
            return "spki=\(PublicKeyPin.encode(pin))"
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
    /// context so that a session is only resumed on a host with the same policy. Lists added later
    /// (`email`, `ip`, `spki`) appear only when set, so hosts without them keep their earlier context and
    /// existing sessions stay resumable across the upgrade.
    func fingerprintText(caFile: String?, caDirectory: String?, crlFile: String?, depth: Int) -> String {
        var lines = [
            "verify=\(verify.rawValue)", "ca=\(caFile ?? "")", "capath=\(caDirectory ?? "")", "crl=\(crlFile ?? "")",
            "depth=\(depth)", "cn=\(allowCommonNames.joined(separator: ","))", "dns=\(allowDNSNames.joined(separator: ","))",
            "uri=\(allowURIs.joined(separator: ","))", "ou=\(allowOrganizationalUnits.joined(separator: ","))",
        ]
        if !allowEmails.isEmpty { lines.append("email=\(allowEmails.joined(separator: ","))") }
        if !allowIPs.isEmpty { lines.append("ip=\(allowIPs.map(\.description).joined(separator: ","))") }
        if !allowPublicKeyPins.isEmpty { lines.append("spki=\(allowPublicKeyPins.joined(separator: ","))") }
        return lines.joined(separator: "\n")
    }
}

/// An e-mail address split for `allow_email` matching: the local part compared exactly (RFC 5321 lets a
/// server treat it as case-sensitive), the domain compared case-insensitively (DNS names are).
struct EmailAddress: Sendable, Equatable {
    let localPart: String
    let domain: String

    /// Splits at the last `@`; nil without one, or with an empty local part or domain.
    init?(_ text: String) {
        guard let at = text.lastIndex(of: "@") else { return nil }
        let local = text[..<at]
        let domain = text[text.index(after: at)...]
        guard !local.isEmpty, !domain.isEmpty else { return nil }
        localPart = String(local)
        self.domain = domain.lowercased()
    }
}
