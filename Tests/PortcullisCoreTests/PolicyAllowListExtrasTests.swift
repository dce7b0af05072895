import Foundation
import Logging
import OpenSSLCrypto
import Testing
@testable import OpenSSLSSL
@testable import PortcullisCore

/// `allow_email`, `allow_ip`, `allow_spki_sha256`, `proxy_client_certificate` and `client_refused_backend`:
/// matching rules, the session-id context, the PROXY v2 certificate TLV, the access-log fields and the
/// configuration errors.
@Suite struct PolicyAllowListExtrasTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func policy(email: [String] = [], ip: [String] = [], spki: [String] = [], cn: [String] = []) throws -> ClientPolicy {
        let prefixes = try ip.map { try NetworkPrefix.parse($0).get() }
        return ClientPolicy(ClientPolicyConfiguration(
            verify: .require, caFile: "/ca.pem", allowCommonNames: cn, allowEmails: email, allowIPs: prefixes, allowPublicKeyPins: spki))
    }

    func v4(_ text: String) -> [UInt8] {
        var address = in_addr()
        #expect(inet_pton(AF_INET, text, &address) == 1)
        return withUnsafeBytes(of: address) { Array($0) }
    }

    func v6(_ text: String) -> [UInt8] {
        var address = in6_addr()
        #expect(inet_pton(AF_INET6, text, &address) == 1)
        return withUnsafeBytes(of: address) { Array($0) }
    }

    // MARK: allow_email

    @Test func emailLocalPartIsExactAndDomainCaseInsensitive() throws {
        let allow = try policy(email: ["Alice@Example.COM"])
        #expect(allow.matchingEntry(for: ClientIdentity(emails: ["Alice@example.com"])) == "email=Alice@example.com")
        #expect(allow.matchingEntry(for: ClientIdentity(emails: ["Alice@EXAMPLE.com"])) == "email=Alice@EXAMPLE.com")
        #expect(allow.matchingEntry(for: ClientIdentity(emails: ["alice@example.com"])) == nil)  // local part differs in case
        #expect(allow.matchingEntry(for: ClientIdentity(emails: ["Alice@example.com.evil"])) == nil)
        #expect(allow.matchingEntry(for: ClientIdentity(emails: ["Alice"])) == nil)
        // The last '@' splits (a quoted local part may contain one).
        let quoted = try policy(email: ["\"a@b\"@example.com"])
        #expect(quoted.matchingEntry(for: ClientIdentity(emails: ["\"a@b\"@EXAMPLE.com"])) != nil)
    }

    @Test func subjectEmailAddressCountsOnlyWithoutSubjectAltNameEmails() throws {
        let allow = try policy(email: ["ops@example.com"])
        // X509_check_email's rule, which stunnel's checkEmail inherits.
        #expect(allow.matchingEntry(for: ClientIdentity(subjectEmails: ["ops@example.com"])) == "email=ops@example.com")
        #expect(allow.matchingEntry(for: ClientIdentity(emails: ["other@example.com"], subjectEmails: ["ops@example.com"])) == nil)
    }

    // MARK: allow_ip

    @Test func ipAddressesCompareAsBinary() throws {
        let allow = try policy(ip: ["0:0::1", "192.0.2.7"])
        #expect(allow.matchingEntry(for: ClientIdentity(ipAddresses: [v6("::1")])) == "ip=::1")
        #expect(allow.matchingEntry(for: ClientIdentity(ipAddresses: [v4("192.0.2.7")])) == "ip=192.0.2.7")
        #expect(allow.matchingEntry(for: ClientIdentity(ipAddresses: [v4("192.0.2.8")])) == nil)
        #expect(allow.matchingEntry(for: ClientIdentity(ipAddresses: [v6("::2")])) == nil)
        // A certificate's 4-byte address is not confused with the IPv6 address ::c000:207.
        #expect(try policy(ip: ["::c000:207"]).matchingEntry(for: ClientIdentity(ipAddresses: [v4("192.0.2.7")])) == nil)
        // Malformed lengths never match (not even ::/0).
        #expect(try policy(ip: ["::/0", "0.0.0.0/0"]).matchingEntry(for: ClientIdentity(ipAddresses: [[1, 2, 3]])) == nil)
    }

    @Test func ipNetworksMatchByPrefix() throws {
        let allow = try policy(ip: ["10.0.0.0/8", "2001:db8:aa::/48"])
        #expect(allow.matchingEntry(for: ClientIdentity(ipAddresses: [v4("10.200.3.4")])) == "ip=10.200.3.4")
        #expect(allow.matchingEntry(for: ClientIdentity(ipAddresses: [v4("11.0.0.1")])) == nil)
        #expect(allow.matchingEntry(for: ClientIdentity(ipAddresses: [v6("2001:DB8:AA:0:0::9")])) == "ip=2001:db8:aa::9")
        #expect(allow.matchingEntry(for: ClientIdentity(ipAddresses: [v6("2001:db8:ab::9")])) == nil)
        #expect(allow.matchingEntry(for: ClientIdentity(ipAddresses: [v4("192.0.2.1"), v4("10.0.0.1")])) == "ip=10.0.0.1")
        // An IPv4 entry also takes the IPv4-mapped IPv6 form, as proxy_sources does.
        #expect(allow.matchingEntry(for: ClientIdentity(ipAddresses: [v6("::ffff:10.1.2.3")])) == "ip=::ffff:10.1.2.3")
    }

    // MARK: allow_spki_sha256

    @Test func pinsAreStandardBase64OfThirtyTwoBytes() {
        let digest = (0..<32).map { UInt8($0 * 7 & 0xFF) }
        let text = PublicKeyPin.encode(digest)
        #expect(text.count == 44 && text.hasSuffix("="))
        #expect(PublicKeyPin.decode(text) == digest)
        #expect(PublicKeyPin.decode(String(text.dropLast())) == nil)  // padding required
        let slashes = PublicKeyPin.encode([UInt8](repeating: 0xFF, count: 32))  // "/////...8="
        #expect(slashes.contains("/") && PublicKeyPin.decode(slashes) != nil)
        #expect(PublicKeyPin.decode(slashes.replacingOccurrences(of: "/", with: "_")) == nil)  // URL-safe alphabet
        #expect(PublicKeyPin.decode(PublicKeyPin.encode(Array(digest.prefix(31)) + [0])) != nil)
        #expect(PublicKeyPin.decode(Data(digest + [1]).base64EncodedString()) == nil)  // 33 bytes
        #expect(PublicKeyPin.decode(" " + text.dropFirst()) == nil)
    }

    @Test func thePinIsWhatTheOpenSSLPipelinePrintsAndSurvivesRenewal() throws {
        let pki = try HostPKI.shared()
        let certificate = try Crypto.loadCertificate(.pem, Array(try Data(contentsOf: URL(fileURLWithPath: pki.client.certificate))))
        let expected = try pipelinePin(pki.client.certificate)
        #expect(try PublicKeyPin.text(of: certificate) == expected)
        // A renewed certificate with the same key (new serial, new subject) keeps the pin.
        let directory = pki.directory
        try HostPKI.openssl(["req", "-new", "-key", pki.client.key, "-out", directory + "/renewed.csr", "-subj", "/CN=billing-renewed"])
        try HostPKI.openssl(["x509", "-req", "-in", directory + "/renewed.csr", "-CA", pki.ca.certificate, "-CAkey", pki.ca.key,
                             "-CAcreateserial", "-out", directory + "/renewed.pem", "-days", "2"])
        let renewed = try Crypto.loadCertificate(.pem, Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/renewed.pem"))))
        #expect(try PublicKeyPin.text(of: renewed) == expected)
        #expect(try renewed.digest("sha256") != certificate.digest("sha256"))
        // Matching on the identity the admission builds.
        let identity = try CertificateNames.identity(of: renewed, publicKeyPin: true)
        #expect(try policy(spki: [expected]).matchingEntry(for: identity) == "spki=\(expected)")
        #expect(try policy(spki: [PublicKeyPin.encode([UInt8](repeating: 0, count: 32))]).matchingEntry(for: identity) == nil)
        #expect(try CertificateNames.identity(of: renewed).publicKeySHA256 == nil)  // only computed when asked
    }

    @Test func certInspectPrintsThePin() throws {
        let pki = try HostPKI.shared()
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: pki.client.certificate)))
        let text = try CertificateInspector.describe(bytes, name: "client.pem", password: nil)
        #expect(text.contains("SPKI pin:"), "\(text)")
        #expect(text.contains(try pipelinePin(pki.client.certificate)), "\(text)")
    }

    /// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`.
    func pipelinePin(_ certificate: String) throws -> String {
        let shell = "openssl x509 -in '\(certificate)' -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", shell]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: OR semantics and the session-id context

    @Test func everyListJoinsTheOrAndTheFingerprint() throws {
        let identity = ClientIdentity(commonNames: ["billing"], emails: ["b@example.com"], ipAddresses: [v4("10.0.0.1")])
        #expect(try policy(email: ["x@example.com"], ip: ["10.0.0.0/8"], cn: ["nobody"]).matchingEntry(for: identity) == "ip=10.0.0.1")
        #expect(try policy(email: ["b@example.com"], ip: ["192.0.2.0/24"]).matchingEntry(for: identity) == "email=b@example.com")
        #expect(try policy(email: ["x@example.com"], ip: ["192.0.2.0/24"]).matchingEntry(for: identity) == nil)

        let pki = try HostPKI.shared()
        func context(_ client: ClientPolicyConfiguration) throws -> [UInt8] {
            try HostTableCompiler.sessionIDContext(for: hostConfiguration("api", pki.api, names: ["api.example.com"], client: client))
        }
        var base = ClientPolicyConfiguration(verify: .require, caFile: pki.ca.certificate, allowCommonNames: ["billing"])
        let before = try context(base)
        var contexts: Set<[UInt8]> = [before]
        base.allowEmails = ["b@example.com"]
        contexts.insert(try context(base))
        base.allowEmails = ["c@example.com"]
        contexts.insert(try context(base))
        base.allowIPs = [try NetworkPrefix.parse("10.0.0.0/8").get()]
        contexts.insert(try context(base))
        base.allowIPs = [try NetworkPrefix.parse("10.0.0.0/16").get()]
        contexts.insert(try context(base))
        base.allowPublicKeyPins = [PublicKeyPin.encode([UInt8](repeating: 1, count: 32))]
        contexts.insert(try context(base))
        base.allowPublicKeyPins = [PublicKeyPin.encode([UInt8](repeating: 2, count: 32))]
        contexts.insert(try context(base))
        #expect(contexts.count == 7, "every change of a list must end resumption")
        // Hosts without the new lists keep the context they had, so an upgrade does not end their sessions.
        #expect(ClientPolicy(ClientPolicyConfiguration(verify: .require, allowCommonNames: ["a"]))
            .fingerprintText(caFile: nil, caDirectory: nil, crlFile: nil, depth: 9)
            == "verify=require\nca=\ncapath=\ncrl=\ndepth=9\ncn=a\ndns=\nuri=\nou=")
    }

    // MARK: Through handshakes

    @Test func admissionReadsEmailIPAndPinFromARealCertificate() throws {
        let pki = try HostPKI.shared()
        let directory = pki.directory
        try "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nsubjectAltName=email:Robot@Fleet.Example,IP:192.0.2.44,IP:2001:db8::44\n"
            .write(toFile: directory + "/robot.ext", atomically: true, encoding: .utf8)
        try HostPKI.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", directory + "/robot.key",
                             "-out", directory + "/robot.csr", "-subj", "/CN=robot/emailAddress=ignored@fleet.example"])
        try HostPKI.openssl(["x509", "-req", "-in", directory + "/robot.csr", "-CA", pki.ca.certificate, "-CAkey", pki.ca.key,
                             "-CAcreateserial", "-out", directory + "/robot.pem", "-days", "2", "-extfile", directory + "/robot.ext"])
        let robot = HostPKI.Identity(certificate: directory + "/robot.pem", key: directory + "/robot.key")
        let pin = try pipelinePin(robot.certificate)

        func admission(_ client: ClientPolicyConfiguration) throws -> Admission {
            let table = try HostTable.compile(proxyConfiguration(
                [hostConfiguration("api", pki.api, names: ["api.example.com"], client: client)], defaultHost: "api"), logger: logger)
            let outcome = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientCertificate: robot)
            #expect(outcome.succeeded)
            return try #require(table.host(for: outcome.server)).admission(outcome.server)
        }
        let ca = pki.ca.certificate
        #expect(try admission(.init(verify: .require, caFile: ca, allowEmails: ["Robot@fleet.example"]))
            == Admission(.allow, matchedEntry: "email=Robot@Fleet.Example"))
        #expect(try admission(.init(verify: .require, caFile: ca, allowIPs: [NetworkPrefix.parse("2001:db8:0::44").get()]))
            == Admission(.allow, matchedEntry: "ip=2001:db8::44"))
        #expect(try admission(.init(verify: .optional, caFile: ca, allowPublicKeyPins: [pin]))
            == Admission(.allow, matchedEntry: "spki=\(pin)"))
        // The subject emailAddress is ignored because the certificate has an rfc822Name.
        let miss = try admission(.init(verify: .require, caFile: ca, allowEmails: ["ignored@fleet.example"], allowIPs: [NetworkPrefix.parse("192.0.2.0/31").get()]))
        #expect(miss.allowListMiss && miss.matchedEntry == nil)
        guard case .deny(let reason) = miss.decision else { Issue.record("expected a refusal, got \(miss)"); return }
        #expect(reason.contains("email:Robot@Fleet.Example") && reason.contains("IP:192.0.2.44") && reason.contains("IP:2001:db8::44"), "\(reason)")
    }

    @Test func resumedSessionsArePinnedToo() throws {
        let pki = try HostPKI.shared()
        let pin = try pipelinePin(pki.client.certificate)
        let table = try HostTable.compile(proxyConfiguration([hostConfiguration(
            "api", pki.api, names: ["api.example.com"],
            client: ClientPolicyConfiguration(verify: .require, caFile: pki.ca.certificate, allowPublicKeyPins: [pin]))],
            defaultHost: "api"), logger: logger)
        let clientContext = try Context(method: .tlsClient)
        try clientContext.useCertificateChainFile(pki.client.certificate)
        try clientContext.usePrivateKeyFile(pki.client.key)
        let first = try handshake(listener: table.listeners[0], serverName: "api.example.com", clientContext: clientContext)
        #expect(first.succeeded)
        let session = try #require(first.client.getSession())
        let resumed = try handshake(listener: table.listeners[0], serverName: "api.example.com", session: session, clientContext: clientContext)
        #expect(resumed.server.sessionReused())
        #expect(table.hosts[0].admission(resumed.server) == Admission(.allow, matchedEntry: "spki=\(pin)"))
        // The same resumed connection judged by a host pinned to another key is an allow-list miss.
        let other = try HostTable.compile(proxyConfiguration([hostConfiguration(
            "api", pki.api, names: ["api.example.com"],
            client: ClientPolicyConfiguration(verify: .require, caFile: pki.ca.certificate,
                                              allowPublicKeyPins: [PublicKeyPin.encode([UInt8](repeating: 3, count: 32))]))],
            defaultHost: "api"), logger: logger)
        let miss = other.hosts[0].admission(resumed.server)
        #expect(!miss.decision.isAllowed && miss.allowListMiss)
    }

    // MARK: PROXY v2 client certificate

    @Test func version2CarriesTheClientCertificateAsSubTLV0x28() throws {
        let certificate: [UInt8] = [0x30, 0x82, 0x01, 0x00] + [UInt8](repeating: 0xAB, count: 256)
        let tls = ProxyProtocolHeader.TLSDetails(
            version: "TLSv1.3", cipher: nil, certificateOnConnection: true, certificateInSession: true, verifyResult: 0,
            commonName: nil, clientCertificate: certificate)
        let header = try #require(ProxyProtocolHeader.v2(
            source: SocketAddress(numericHost: "192.0.2.1", port: 1)!, destination: SocketAddress(numericHost: "192.0.2.2", port: 2)!, tls: tls))
        let tail = Array(header[28...])
        let sslLength = 5 + 10 + 3 + certificate.count
        #expect(tail[0] == 0x20 && Int(tail[1]) << 8 | Int(tail[2]) == sslLength)
        #expect(Array(tail[3..<8]) == [0x07, 0, 0, 0, 0])
        #expect(Array(tail[8..<18]) == [0x21, 0x00, 0x07] + Array("TLSv1.3".utf8))
        #expect(Array(tail[18..<21]) == [0x28, 0x01, 0x04])
        #expect(Array(tail[21...]) == certificate)
        #expect(Int(header[14]) << 8 | Int(header[15]) == 12 + 3 + sslLength)
    }

    // MARK: Access log

    @Test func accessLogNamesTheMatchedEntryAndRedirects() {
        let writer = AccessLogWriter(output: LogOutput.stdout, format: .text)
        var record = ConnectionRecord(acceptedAt: 0, clientAddress: "127.0.0.1:1", listener: "l", closeReason: "client_close")
        #expect(!writer.line(for: record).contains("allow="))
        #expect(!writer.line(for: record).contains("redirected="))
        record.allowedBy = "email=a@example.com"
        #expect(writer.line(for: record).contains(" client_verify=none allow=\"email=a@example.com\" backend=-"))
        record.allowedBy = nil
        record.redirected = "client certificate matches no allow-list entry (CN=x)"
        #expect(writer.line(for: record).contains(" redirected=\"client certificate matches no allow-list entry (CN=x)\" backend="))
        let json = AccessLogWriter(output: LogOutput.stdout, format: .json).line(for: record)
        #expect(json.contains("\"redirected\":\"client certificate") && !json.contains("\"allow\""))
    }
}

@Suite struct ConfigAllowListExtrasTests {
    let mtls = """
        [[listener]]
        listen = "127.0.0.1:8443"

        [[host]]
        name = "api"
        certificate = "api.pem"
        backend = "127.0.0.1:8080"
        client_verify = "require"
        client_ca_file = "ca.pem"

        """

    @Test func newKeysAreRead() throws {
        let configuration = try parseConfiguration(mtls + """
            allow_email = ["alice@example.com"]
            allow_ip = ["10.0.0.0/8", "::1"]
            allow_spki_sha256 = ["\(PublicKeyPin.encode([UInt8](repeating: 9, count: 32)))"]
            client_refused_backend = "unix:run/honeypot.sock"
            proxy_protocol = "v2"
            proxy_client_certificate = true
            """)
        let host = configuration.hosts[0]
        #expect(host.client.allowEmails == ["alice@example.com"])
        #expect(host.client.allowIPs.map(\.description) == ["10.0.0.0/8", "::1"])
        #expect(host.client.allowPublicKeyPins.count == 1)
        #expect(host.refusedBackend == .unix(path: "/etc/portcullis/run/honeypot.sock"))
        #expect(host.proxyClientCertificate)
        let single = try parseConfiguration(mtls + "allow_ip = \"192.0.2.7\"\nclient_refused_backend = \"127.0.0.1:9999\"\n")
        #expect(single.hosts[0].client.allowIPs.count == 1)
        #expect(single.hosts[0].refusedBackend == .tcp(host: "127.0.0.1", port: 9999))
        #expect(single.hosts[0].proxyClientCertificate == false)
    }

    func message(_ diagnostics: [ConfigurationDiagnostic], _ keyPath: String) -> String? {
        diagnostics.first { $0.keyPath == keyPath }?.message
    }

    @Test func badEntriesNameTheEntryAndWhatWasExpected() {
        let found = diagnostics(mtls + """
            allow_email = ["alice@example.com", "bob", "@example.com"]
            allow_ip = ["10.0.0.1/8", "300.1.1.1"]
            allow_spki_sha256 = ["abc", "\(PublicKeyPin.encode([UInt8](repeating: 9, count: 32)).dropLast())"]
            """)
        #expect(message(found, "host[0].allow_email[1]")?.contains("expected local-part@domain") == true, "\(found)")
        #expect(message(found, "host[0].allow_email[2]") != nil)
        #expect(message(found, "host[0].allow_email[0]") == nil)
        #expect(message(found, "host[0].allow_ip[0]")?.contains("did you mean \"10.0.0.0/8\"") == true, "\(found)")
        #expect(message(found, "host[0].allow_ip[1]")?.contains("not a numeric IPv4 or IPv6 address") == true)
        #expect(message(found, "host[0].allow_spki_sha256[0]")?.contains("openssl dgst -sha256 -binary | base64") == true)
        #expect(message(found, "host[0].allow_spki_sha256[1]") != nil)
        #expect(found.allSatisfy { $0.line != nil && $0.file == "test.toml" }, "\(found)")
        #expect(found.count == 6, "\(found)")
    }

    @Test func newKeysNeedClientVerification() {
        let found = diagnostics(minimalHost + """
            allow_email = ["alice@example.com"]
            allow_ip = ["10.0.0.0/8"]
            allow_spki_sha256 = ["\(PublicKeyPin.encode([UInt8](repeating: 9, count: 32)))"]
            client_refused_backend = "127.0.0.1:9"
            proxy_protocol = "v2"
            proxy_client_certificate = true
            """)
        for key in ["allow_email", "allow_ip", "allow_spki_sha256", "client_refused_backend"] {
            #expect(message(found, "host[0].\(key)")?.contains("client_verify = \"none\"") == true, "\(key): \(found)")
        }
        #expect(message(found, "host[0].proxy_client_certificate")?.contains("client_verify = \"none\"") == true, "\(found)")
    }

    @Test func proxyClientCertificateNeedsVersion2() {
        for proxy in ["", "proxy_protocol = \"v1\"\n", "proxy_protocol = false\n"] {
            let found = diagnostics(mtls + proxy + "proxy_client_certificate = true\n")
            #expect(message(found, "host[0].proxy_client_certificate")?.contains("needs proxy_protocol = \"v2\"") == true, "\(found)")
        }
        #expect(diagnostics(mtls + "proxy_client_certificate = \"yes\"\n").first?.keyPath == "host[0].proxy_client_certificate")
    }

    @Test func refusedBackendNeedsAnAllowListAndAnAddress() {
        let withoutList = diagnostics(mtls + "client_refused_backend = \"127.0.0.1:9\"\n")
        #expect(message(withoutList, "host[0].client_refused_backend")?.contains("without an allow-list") == true, "\(withoutList)")
        let bad = diagnostics(mtls + "allow_cn = [\"a\"]\nclient_refused_backend = \"honeypot\"\n")
        #expect(message(bad, "host[0].client_refused_backend")?.contains("invalid backend \"honeypot\"") == true, "\(bad)")
    }
}
