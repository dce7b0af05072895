import OpenSSLCrypto
public import OpenSSLSSL

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
        if policy.verify == .none { return .allow }
        guard let peer = connection.getPeerCertificate() else {
            return policy.verify == .require ? .deny("client certificate required, none presented") : .allow
        }
        let result = connection.getVerifyResult()
        guard result == 0 else {
            return .deny("client certificate did not verify: \(VerifyResultText.describe(result))")
        }
        guard policy.hasAllowList else { return .allow }
        let identity: ClientIdentity
        do {
            identity = try CertificateNames.identity(of: peer)
        } catch {
            return .deny("client certificate names could not be read")
        }
        guard policy.matchingEntry(for: identity) != nil else {
            let shown = (identity.commonNames.map { "CN=\($0)" } + identity.organizationalUnits.map { "OU=\($0)" }
                + identity.dnsNames.map { "DNS:\($0)" } + identity.uris.map { "URI:\($0)" }).joined(separator: ", ")
            return .deny("client certificate matches no allow-list entry (\(shown.isEmpty ? "no names" : shown))")
        }
        return .allow
    }
}
