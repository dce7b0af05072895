import OpenSSLCrypto
public import OpenSSLSSL

/// What `Host.admission(_:)` decided about a client whose handshake completed.
public struct Admission: Sendable, Equatable {
    /// Allow, or deny with the reason for the access log.
    public var decision: PolicyDecision
    /// The allow-list entry that admitted the client, as `ClientPolicy.matchingEntry(for:)` names it
    /// (`cn=alice`, `ip=192.0.2.7`); nil when no allow-list was applied (no list, no certificate, or denied).
    public var matchedEntry: String?
    /// The certificate verified but matched no allow-list entry (or its names could not be read): the one
    /// refusal `client_refused_backend` redirects instead of closing.
    public var allowListMiss: Bool

    public init(_ decision: PolicyDecision, matchedEntry: String? = nil, allowListMiss: Bool = false) {
        self.decision = decision
        self.matchedEntry = matchedEntry
        self.allowListMiss = allowListMiss
    }
}

extension Host {
    /// The host's client-certificate policy applied to a connection whose handshake completed on this host.
    /// The runtime calls it after every handshake, resumed ones included: on a resumed session the peer
    /// certificate and verify result are the ones stored in the session, so a session made before an
    /// allow-list change is judged by the new list.
    ///
    /// - `none`: always `.allow`.
    /// - `optional`: no certificate is allowed; a certificate must have verified and pass the allow-list.
    /// - `require`: a certificate must be present, have verified, and pass the allow-list.
    public func admits(_ connection: Connection) -> PolicyDecision {
        admission(connection).decision
    }

    /// `admits(_:)` with the matched allow-list entry and whether a refusal was an allow-list miss.
    public func admission(_ connection: Connection) -> Admission {
        if policy.verify == .none { return Admission(.allow) }
        guard let peer = connection.getPeerCertificate() else {
            return Admission(policy.verify == .require ? .deny("client certificate required, none presented") : .allow)
        }
        let result = connection.getVerifyResult()
        guard result == 0 else {
            return Admission(.deny("client certificate did not verify: \(X509VerificationCode(rawValue: Int32(result)).message)"))
        }
        guard policy.hasAllowList else { return Admission(.allow) }
        let identity: ClientIdentity
        do {
            identity = try CertificateNames.identity(of: peer, publicKeyPin: policy.needsPublicKeyPin)
        } catch {
            return Admission(.deny("client certificate names could not be read"), allowListMiss: true)
        }
        guard let entry = policy.matchingEntry(for: identity) else {
            var names = identity.commonNames.map { "CN=\($0)" } + identity.organizationalUnits.map { "OU=\($0)" }
            names += identity.dnsNames.map { "DNS:\($0)" } + identity.uris.map { "URI:\($0)" }
            names += identity.emails.map { "email:\($0)" } + identity.subjectEmails.map { "emailAddress=\($0)" }
            names += identity.ipAddresses.map { "IP:\(NetworkPrefix.addressText($0))" }
            if let pin = identity.publicKeySHA256 { names.append("spki=\(PublicKeyPin.encode(pin))") }
            let shown = names.joined(separator: ", ")
            return Admission(.deny("client certificate matches no allow-list entry (\(shown.isEmpty ? "no names" : shown))"),
                             allowListMiss: true)
        }
        return Admission(.allow, matchedEntry: entry)
    }
}
