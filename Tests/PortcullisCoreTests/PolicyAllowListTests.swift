import Foundation
import Logging
import OpenSSLCrypto
import Testing
@testable import OpenSSLSSL
@testable import PortcullisCore

@Suite struct PolicyAllowListTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func policy(cn: [String] = [], dns: [String] = [], uri: [String] = [], ou: [String] = []) -> ClientPolicy {
        ClientPolicy(ClientPolicyConfiguration(
            verify: .require, caFile: "/ca.pem", allowCommonNames: cn, allowDNSNames: dns, allowURIs: uri, allowOrganizationalUnits: ou))
    }

    let identity = ClientIdentity(
        commonNames: ["billing"], dnsNames: ["billing.clients.example.com"],
        uris: ["spiffe://corp.example/ns/prod/billing"], organizationalUnits: ["ops"])

    @Test func anyMatchingEntryPasses() {
        #expect(policy().matchingEntry(for: identity) == "*")
        #expect(policy(cn: ["other", "billing"]).matchingEntry(for: identity) == "cn=billing")
        #expect(policy(ou: ["ops"]).matchingEntry(for: identity) == "ou=ops")
        #expect(policy(dns: ["BILLING.clients.example.com"]).matchingEntry(for: identity) == "dns=billing.clients.example.com")
        #expect(policy(dns: ["*.clients.example.com"]).matchingEntry(for: identity) == "dns=billing.clients.example.com")
        #expect(policy(uri: ["spiffe://corp.example/ns/prod/billing"]).matchingEntry(for: identity) != nil)
        #expect(policy(uri: ["spiffe://corp.example/ns/prod/*"]).matchingEntry(for: identity) != nil)
        // One list missing does not matter when another matches (OR, as ghostunnel and stunnel >= 5.48).
        #expect(policy(cn: ["nobody"], uri: ["spiffe://corp.example/*"]).matchingEntry(for: identity) != nil)
    }

    @Test func nonMatchingEntriesFail() {
        #expect(policy(cn: ["Billing"]).matchingEntry(for: identity) == nil)  // CN is case-sensitive
        #expect(policy(ou: ["dev"]).matchingEntry(for: identity) == nil)
        #expect(policy(dns: ["*.example.com"]).matchingEntry(for: identity) == nil)  // one label only
        #expect(policy(dns: ["clients.example.com"]).matchingEntry(for: identity) == nil)
        #expect(policy(uri: ["spiffe://corp.example/ns/dev/*"]).matchingEntry(for: identity) == nil)
        #expect(policy(uri: ["spiffe://corp.example/ns/prod"]).matchingEntry(for: identity) == nil)  // exact without *
        #expect(policy(cn: ["billing"]).matchingEntry(for: ClientIdentity()) == nil)
    }

    @Test func namesAreReadFromARealCertificate() throws {
        let pki = try HostPKI.shared()
        let certificate = try Crypto.loadCertificate(.pem, Array(try Data(contentsOf: URL(fileURLWithPath: pki.client.certificate))))
        let names = try CertificateNames.identity(of: certificate)
        #expect(names == identity)
        let server = try Crypto.loadCertificate(.pem, Array(try Data(contentsOf: URL(fileURLWithPath: pki.wild.certificate))))
        #expect(try CertificateNames.identity(of: server) == ClientIdentity(commonNames: ["*.example.com"], dnsNames: ["*.example.com"]))
    }

    @Test func separatorsInsideValuesCannotForgeAnotherAttribute() throws {
        let pki = try HostPKI.shared()
        let directory = pki.directory
        try HostPKI.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", directory + "/forge.key",
                             "-out", directory + "/forge.csr", "-subj", "/CN=x\\, OU=ops"])
        try HostPKI.openssl(["x509", "-req", "-in", directory + "/forge.csr", "-CA", pki.ca.certificate, "-CAkey", pki.ca.key,
                             "-CAcreateserial", "-out", directory + "/forge.pem", "-days", "1"])
        let certificate = try Crypto.loadCertificate(.pem, Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/forge.pem"))))
        let names = try CertificateNames.identity(of: certificate)
        #expect(names.commonNames == ["x, OU=ops"])
        #expect(names.organizationalUnits.isEmpty)
        #expect(policy(ou: ["ops"]).matchingEntry(for: names) == nil)
    }

    @Test func malformedDERIsRejected() {
        #expect(throws: CertificateNames.Malformed.self) { try CertificateNames.identity(der: [0x30, 0x05, 0x30]) }
        #expect(throws: CertificateNames.Malformed.self) { try CertificateNames.identity(der: []) }
    }

    // MARK: Through handshakes

    func table(_ client: ClientPolicyConfiguration) throws -> HostTable {
        let pki = try HostPKI.shared()
        return try HostTable.compile(proxyConfiguration(
            [hostConfiguration("api", pki.api, names: ["api.example.com"], client: client)], defaultHost: "api"), logger: logger)
    }

    @Test func admitsAppliesTheAllowListAfterTheHandshake() throws {
        let pki = try HostPKI.shared()
        let allowed = try table(ClientPolicyConfiguration(verify: .require, caFile: pki.ca.certificate, allowURIs: ["spiffe://corp.example/ns/prod/*"]))
        let hit = try handshake(listener: allowed.listeners[0], serverName: "api.example.com", clientCertificate: pki.client)
        #expect(hit.succeeded)
        #expect(allowed.host(for: hit.server)?.admits(hit.server) == .allow)

        let refused = try table(ClientPolicyConfiguration(verify: .require, caFile: pki.ca.certificate, allowCommonNames: ["payroll"], allowOrganizationalUnits: ["finance"]))
        let miss = try handshake(listener: refused.listeners[0], serverName: "api.example.com", clientCertificate: pki.client)
        #expect(miss.succeeded)  // the certificate verifies; the allow-list refuses it afterwards
        let decision = try #require(refused.host(for: miss.server)).admits(miss.server)
        guard case .deny(let reason) = decision else { Issue.record("expected a refusal, got \(decision)"); return }
        #expect(reason.contains("matches no allow-list entry"))
        #expect(reason.contains("CN=billing"))
        #expect(reason.contains("URI:spiffe://corp.example/ns/prod/billing"))
    }

    @Test func optionalVerificationLetsClientsWithoutCertificatesIn() throws {
        let pki = try HostPKI.shared()
        let table = try table(ClientPolicyConfiguration(verify: .optional, caFile: pki.ca.certificate, allowCommonNames: ["billing"]))
        let anonymous = try handshake(listener: table.listeners[0], serverName: "api.example.com")
        #expect(anonymous.succeeded)
        #expect(table.hosts[0].admits(anonymous.server) == .allow)
        let identified = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientCertificate: pki.client)
        #expect(table.hosts[0].admits(identified.server) == .allow)
        let stranger = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientCertificate: pki.strangerClient)
        #expect(!stranger.succeeded)  // an untrusted certificate is refused even when certificates are optional
    }

    @Test func requireRefusesAMissingCertificateEvenIfTheHandshakeWereLetThrough() throws {
        let pki = try HostPKI.shared()
        let table = try table(ClientPolicyConfiguration(verify: .require, caFile: pki.ca.certificate))
        // A client on a host without client auth, judged by the require host's policy: admits must refuse.
        let plain = try HostTable.compile(proxyConfiguration([hostConfiguration("www", pki.www, names: [])], defaultHost: "www"), logger: logger)
        let outcome = try handshake(listener: plain.listeners[0], serverName: nil)
        #expect(outcome.succeeded)
        #expect(table.hosts[0].admits(outcome.server) == .deny("client certificate required, none presented"))
    }

    @Test func resumedSessionsAreJudgedByTheCurrentPolicy() throws {
        let pki = try HostPKI.shared()
        let table = try table(ClientPolicyConfiguration(verify: .require, caFile: pki.ca.certificate, allowCommonNames: ["billing"]))
        let clientContext = try Context(method: .tlsClient)
        try clientContext.useCertificateChainFile(pki.client.certificate)
        try clientContext.usePrivateKeyFile(pki.client.key)
        let first = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientContext: clientContext)
        #expect(first.succeeded)
        let session = try #require(first.client.getSession())
        let resumed = try handshake(listener: table.listeners[0], serverName: "api.example.com", session: session, clientContext: clientContext)
        #expect(resumed.server.sessionReused())
        #expect(resumed.server.getPeerCertificate() != nil)  // the certificate travels in the session
        #expect(table.hosts[0].admits(resumed.server) == .allow)
        #expect(table.hosts[0].policy.matchingEntry(for: try CertificateNames.identity(of: try #require(resumed.server.getPeerCertificate()))) == "cn=billing")
    }
}
