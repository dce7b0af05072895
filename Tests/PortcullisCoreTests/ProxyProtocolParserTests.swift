import Testing
@testable import PortcullisCore

/// The receiving side of the PROXY protocol (HAProxy's doc/proxy-protocol.txt, sections 2.1 and 2.2): known-good
/// bytes, every malformed case, and partial input.
@Suite struct ProxyProtocolParserTests {
    let client4 = SocketAddress(numericHost: "192.0.2.1", port: 51234)!
    let server4 = SocketAddress(numericHost: "198.51.100.7", port: 443)!
    let client6 = SocketAddress(numericHost: "2001:db8::1", port: 51234)!
    let server6 = SocketAddress(numericHost: "2001:db8::2", port: 443)!
    let tlsRecord: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01]

    func parse(_ text: String) -> ProxyProtocolParser.Outcome { ProxyProtocolParser.parse(Array(text.utf8)) }

    func header(_ outcome: ProxyProtocolParser.Outcome, sourceLocation: SourceLocation = #_sourceLocation) -> ProxyProtocolParser.Header? {
        guard case .header(let header) = outcome else {
            Issue.record("expected a header, got \(outcome)", sourceLocation: sourceLocation)
            return nil
        }
        return header
    }

    func reason(_ outcome: ProxyProtocolParser.Outcome, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        guard case .invalid(let reason) = outcome else {
            Issue.record("expected invalid, got \(outcome)", sourceLocation: sourceLocation)
            return ""
        }
        return reason
    }

    /// A v2 header: signature, version/command, family/transport, length, body.
    func v2(command: UInt8 = 0x21, family: UInt8, body: [UInt8]) -> [UInt8] {
        ProxyProtocolHeader.v2Signature + [command, family, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    // MARK: Version 1, known good

    @Test func v1TCP4() throws {
        let line = "PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n"
        let parsed = try #require(header(parse(line + "\u{16}\u{03}\u{01}")))
        #expect(parsed.version == 1 && parsed.isProxied)
        #expect(parsed.length == line.utf8.count, "the header ends at the CRLF; the TLS bytes after it stay unread")
        #expect(parsed.source == client4 && parsed.destination == server4)
    }

    @Test func v1TCP6() throws {
        let line = "PROXY TCP6 2001:db8::1 2001:db8::2 51234 443\r\n"
        let parsed = try #require(header(parse(line)))
        #expect(parsed.source == client6 && parsed.destination == server6 && parsed.length == line.utf8.count)
        #expect(parsed.source?.description == "[2001:db8::1]:51234")
    }

    @Test func v1WorstCaseIs107Bytes() throws {
        let line = "PROXY TCP6 ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"
        #expect(reason(parse(line)).contains("IPv6"), "not numeric")
        let longest = "PROXY UNKNOWN " + String(repeating: "x", count: 107 - 16) + "\r\n"
        #expect(longest.utf8.count == 107)
        #expect(header(parse(longest))?.length == 107)
        let tooLong = "PROXY UNKNOWN " + String(repeating: "x", count: 107 - 15) + "\r\n"
        #expect(reason(parse(tooLong)).contains("no CRLF within 107 bytes"))
    }

    @Test func v1Unknown() throws {
        for line in ["PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"] {
            let parsed = try #require(header(parse(line)))
            #expect(parsed.source == nil && parsed.destination == nil && parsed.length == line.utf8.count)
        }
    }

    @Test func v1PortsAtTheEdges() throws {
        let parsed = try #require(header(parse("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n")))
        #expect(parsed.source?.port == 0 && parsed.destination?.port == 65535)
    }

    // MARK: Version 1, malformed

    @Test func v1Malformed() {
        let cases: [(String, String)] = [
            ("PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\n", "line feed without a carriage return"),
            ("PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\rX", "carriage return not followed by a line feed"),
            ("PROXY TCP5 192.0.2.1 198.51.100.7 51234 443\r\n", "unknown protocol"),
            ("PROXY UNKNOWNX\r\n", "unknown protocol"),
            ("PROXY \r\n", "no protocol"),
            ("PROXY TCP4 192.0.2.1 198.51.100.7 51234\r\n", "expected"),
            ("PROXY TCP4\r\n", "expected"),
            ("PROXY TCP4 192.0.2.1 198.51.100.7 51234 443 9\r\n", "more than five fields"),
            ("PROXY TCP4  192.0.2.1 198.51.100.7 51234 443\r\n", "empty field"),
            ("PROXY TCP4 192.0.2.1 198.51.100.7 51234 65536\r\n", "port"),
            ("PROXY TCP4 192.0.2.1 198.51.100.7 -1 443\r\n", "port"),
            ("PROXY TCP4 192.0.2.1 198.51.100.7 123456 443\r\n", "port"),
            ("PROXY TCP4 2001:db8::1 198.51.100.7 51234 443\r\n", "not a numeric IPv4 address"),
            ("PROXY TCP4 192.0.2.256 198.51.100.7 51234 443\r\n", "not a numeric IPv4 address"),
            ("PROXY TCP6 192.0.2.1 2001:db8::2 51234 443\r\n", "not a numeric IPv6 address"),
            ("PROXY TCP4 192.0.2.1\t198.51.100.7 51234 443\r\n", "not printable"),
            ("PROXY TCP4 " + String(repeating: "1", count: 120), "no CRLF within 107 bytes"),
            ("proxy TCP4 192.0.2.1 198.51.100.7 51234 443\r\n", "not a PROXY protocol header"),
            ("PROXYTCP4 192.0.2.1 198.51.100.7 51234 443\r\n", "not a PROXY protocol header"),
            ("GET / HTTP/1.1\r\n", "not a PROXY protocol header"),
        ]
        for (text, expected) in cases {
            let why = reason(parse(text))
            #expect(why.contains(expected), "\(text.debugDescription): \(why)")
        }
    }

    @Test func aTLSClientHelloIsRecognisedAtOnce() {
        #expect(reason(ProxyProtocolParser.parse(tlsRecord)).contains("ClientHello"))
        #expect(reason(ProxyProtocolParser.parse([0x16])).contains("ClientHello"), "one byte is enough to refuse")
    }

    // MARK: Partial input

    @Test func everyPrefixOfAValidHeaderNeedsMore() {
        let v1 = Array("PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n".utf8)
        let v2 = ProxyProtocolHeader.v2(source: client6, destination: server6, alpn: Array("h2".utf8))!
        for bytes in [v1, v2] {
            for count in 0..<bytes.count {
                #expect(ProxyProtocolParser.parse(Array(bytes[0..<count])) == .needMore, "\(count) of \(bytes.count) bytes")
            }
            #expect(header(ProxyProtocolParser.parse(bytes))?.length == bytes.count)
        }
    }

    @Test func aWrongByteIsRefusedBeforeTheHeaderIsComplete() {
        #expect(reason(parse("PROXX")).contains("not a PROXY protocol header"))
        #expect(reason(ProxyProtocolParser.parse([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x55])).contains("bad v2 signature"))
        #expect(reason(parse("PROXY TCP4 192.0.2.1\n")).contains("line feed"))
    }

    // MARK: Version 2, known good

    @Test func v2IPv4WithTLVsRoundTripsOurOwnHeader() throws {
        let bytes = ProxyProtocolHeader.v2(
            source: client4, destination: server4, alpn: Array("http/1.1".utf8), authority: Array("www.example.com".utf8),
            tls: .init(version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256", certificateOnConnection: false,
                       certificateInSession: false, verifyResult: 1, commonName: nil))!
        let parsed = try #require(header(ProxyProtocolParser.parse(bytes + tlsRecord)))
        #expect(parsed.version == 2 && parsed.isProxied && parsed.length == bytes.count)
        #expect(parsed.source == client4 && parsed.destination == server4)
    }

    @Test func v2KnownAnswerIPv4() throws {
        // 192.0.2.1:51234 -> 198.51.100.7:443, no TLVs (spec section 2.2, "\x21\x11\x00\x0C").
        let bytes: [UInt8] = ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0x00, 0x0C, 192, 0, 2, 1, 198, 51, 100, 7, 0xC8, 0x22, 0x01, 0xBB]
        let parsed = try #require(header(ProxyProtocolParser.parse(bytes)))
        #expect(parsed.length == 28 && parsed.source == client4 && parsed.destination == server4)
    }

    @Test func v2IPv6() throws {
        let body = client6.addressBytes + server6.addressBytes + [0xC8, 0x22, 0x01, 0xBB]
        let parsed = try #require(header(ProxyProtocolParser.parse(v2(family: 0x21, body: body))))
        #expect(parsed.length == 52 && parsed.source == client6 && parsed.destination == server6)
    }

    @Test func v2Local() throws {
        // LOCAL: the balancer's own connection (health check); addresses are ignored, even a garbage block.
        for family: UInt8 in [0x00, 0x11, 0x21] {
            let parsed = try #require(header(ProxyProtocolParser.parse(v2(command: 0x20, family: family, body: [1, 2, 3]))))
            #expect(!parsed.isProxied && parsed.source == nil && parsed.length == 19)
        }
    }

    @Test func v2UnspecAndUnixKeepTheSocketPeer() throws {
        let unspec = try #require(header(ProxyProtocolParser.parse(v2(family: 0x00, body: []))))
        #expect(unspec.isProxied && unspec.source == nil && unspec.length == 16)
        let unix = try #require(header(ProxyProtocolParser.parse(v2(family: 0x31, body: [UInt8](repeating: 0x41, count: 216)))))
        #expect(unix.source == nil && unix.length == 232)
    }

    @Test func v2TLVsAreSkipped() throws {
        let aws: [UInt8] = [0xEA, 0x00, 0x09, 0x01] + Array("vpce-123".utf8)
        let noop: [UInt8] = [0x04, 0x00, 0x00]
        let body = client4.addressBytes + server4.addressBytes + [0xC8, 0x22, 0x01, 0xBB] + aws + noop
        let parsed = try #require(header(ProxyProtocolParser.parse(v2(family: 0x11, body: body))))
        #expect(parsed.source == client4 && parsed.length == 16 + body.count)
    }

    @Test func v2AtTheLengthLimit() throws {
        let address = client4.addressBytes + server4.addressBytes + [0xC8, 0x22, 0x01, 0xBB]
        let padding = ProxyProtocolParser.maximumLength - 16 - address.count - 3
        let tlv: [UInt8] = [0x04, UInt8(padding >> 8), UInt8(padding & 0xFF)] + [UInt8](repeating: 0, count: padding)
        let bytes = v2(family: 0x11, body: address + tlv)
        #expect(bytes.count == ProxyProtocolParser.maximumLength)
        #expect(header(ProxyProtocolParser.parse(bytes))?.length == ProxyProtocolParser.maximumLength)
    }

    // MARK: Version 2, malformed

    @Test func v2Malformed() {
        let address4 = client4.addressBytes + server4.addressBytes + [0xC8, 0x22, 0x01, 0xBB]
        let cases: [([UInt8], String)] = [
            (v2(command: 0x11, family: 0x11, body: address4), "unsupported version 1"),
            (v2(command: 0x31, family: 0x11, body: address4), "unsupported version 3"),
            (v2(command: 0x22, family: 0x11, body: address4), "unknown command 2"),
            (v2(command: 0x2F, family: 0x11, body: address4), "unknown command 15"),
            (v2(family: 0x41, body: address4), "undefined address family"),
            (v2(family: 0x13, body: address4), "undefined address family"),
            (v2(family: 0x12, body: address4), "DGRAM"),
            (v2(family: 0x11, body: Array(address4.prefix(11))), "too short for the AF_INET address block"),
            (v2(family: 0x21, body: address4 + [UInt8](repeating: 0, count: 23)), "too short for the AF_INET6 address block"),
            (v2(family: 0x31, body: [UInt8](repeating: 0, count: 215)), "too short for the AF_UNIX address block"),
            (v2(family: 0x11, body: address4 + [0x04, 0x00, 0x05, 0x00]), "TLV runs past the end"),
            (v2(family: 0x11, body: address4 + [0x04, 0x00]), "TLV runs past the end"),
            (ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0xFF, 0xFF], "exceeds the 4096-byte limit"),
            (ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0x0F, 0xF1], "exceeds the 4096-byte limit"),
            ([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0B, 0x21, 0x11, 0x00, 0x00], "bad v2 signature"),
        ]
        for (bytes, expected) in cases {
            let why = reason(ProxyProtocolParser.parse(bytes))
            #expect(why.contains(expected), "\(bytes.prefix(16)): \(why)")
        }
    }

    @Test func v2LengthIsCheckedBeforeTheBodyArrives() {
        // 16 bytes announcing 65535 more: refused at once, no waiting for 64 KiB.
        #expect(reason(ProxyProtocolParser.parse(ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0xFF, 0xFF])).contains("limit"))
        // A valid announcement waits.
        #expect(ProxyProtocolParser.parse(ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0x00, 0x0C, 192]) == .needMore)
    }
}

/// `proxy_sources` entries and how they match peers.
@Suite struct NetworkPrefixTests {
    func prefix(_ text: String) throws -> NetworkPrefix { try NetworkPrefix.parse(text).get() }
    func peer(_ host: String) -> SocketAddress { SocketAddress(numericHost: host, port: 40000)! }

    @Test func ipv4Networks() throws {
        let network = try prefix("10.0.0.0/8")
        #expect(network.contains(peer("10.0.0.1")) && network.contains(peer("10.255.255.255")))
        #expect(!network.contains(peer("11.0.0.0")) && !network.contains(peer("9.255.255.255")))
        #expect(network.contains(peer("::ffff:10.1.2.3")), "a dual-stack listener's IPv4 peer")
        #expect(!network.contains(peer("::a01:203")), "not IPv4-mapped")
        let single = try prefix("192.0.2.7")
        #expect(single.contains(peer("192.0.2.7")) && !single.contains(peer("192.0.2.8")))
        let everyone = try prefix("0.0.0.0/0")
        #expect(everyone.contains(peer("203.0.113.9")) && !everyone.contains(peer("2001:db8::1")))
        #expect(try prefix("192.0.2.0/25").contains(peer("192.0.2.127")) && !(try prefix("192.0.2.0/25").contains(peer("192.0.2.128"))))
    }

    @Test func ipv6Networks() throws {
        let loopback = try prefix("::1")
        #expect(loopback.contains(peer("::1")) && !loopback.contains(peer("::2")) && !loopback.contains(peer("127.0.0.1")))
        let documentation = try prefix("2001:db8::/32")
        #expect(documentation.contains(peer("2001:db8:ffff::1")) && !documentation.contains(peer("2001:db9::1")))
        let half = try prefix("2001:db8::/64")
        #expect(half.contains(peer("2001:db8::ffff:ffff:ffff:ffff")) && !half.contains(peer("2001:db8:0:1::")))
        let deep = try prefix("2001:db8::80/121")
        #expect(deep.contains(peer("2001:db8::ff")) && !deep.contains(peer("2001:db8::7f")))
        let everyone = try prefix("::/0")
        #expect(everyone.contains(peer("2001:db8::1")) && everyone.contains(peer("127.0.0.1")), "IPv4 is inside ::/0 as mapped")
        #expect(!loopback.contains(SocketAddress(unixPath: "/tmp/x.sock")!))
    }

    @Test func badEntriesAreRefused() {
        for (text, expected) in [
            ("10.0.0.1/8", "did you mean \"10.0.0.0/8\""), ("2001:db8::1/32", "did you mean \"2001:db8::/32\""),
            ("10.0.0.0/33", "from 0 to 32"), ("::/129", "from 0 to 128"), ("10.0.0.0/", "from 0 to 32"),
            ("10.0.0.0/x", "from 0 to 32"), ("lb.example.com", "not a numeric"), ("10.0.0", "not a numeric"), ("", "not a numeric"),
        ] {
            switch NetworkPrefix.parse(text) {
            case .success: Issue.record("\(text) was accepted")
            case .failure(let error): #expect(error.description.contains(expected), "\(text): \(error)")
            }
        }
    }

    @Test func thePolicyAdmitsOnlyListedPeers() throws {
        let policy = ProxyHeaderPolicy(sources: [try prefix("10.0.0.0/8"), try prefix("::1")])
        #expect(policy.admits(peer("10.9.8.7")) && policy.admits(peer("::1")))
        #expect(!policy.admits(peer("127.0.0.1")) && !policy.admits(peer("192.168.0.1")))
    }
}

/// `accept_proxy` and `proxy_sources` in `[[listener]]`.
@Suite struct ListenerAcceptProxyConfigTests {
    let host = """
        [[host]]
        name = "www"
        certificate = "www.pem"
        backend = "127.0.0.1:8080"

        """

    @Test func keysAreRead() throws {
        let configuration = try parseConfiguration("""
            [[listener]]
            listen = "127.0.0.1:8443"
            accept_proxy = true
            proxy_sources = ["10.0.0.0/8", "192.0.2.7", "::1"]

            [[listener]]
            listen = "127.0.0.1:8444"

            """ + host)
        let listener = configuration.listeners[0]
        #expect(listener.acceptProxy)
        #expect(listener.proxySources.map(\.description) == ["10.0.0.0/8", "192.0.2.7", "::1"])
        #expect(!configuration.listeners[1].acceptProxy && configuration.listeners[1].proxySources.isEmpty)
        let settings = RuntimeSettings(configuration)
        #expect(settings.proxyHeaderPolicies[configuration.listeners[0].name]?.sources.count == 3)
        #expect(settings.proxyHeaderPolicies[configuration.listeners[1].name] == nil)
        #expect(settings.proxyHeaderPolicies.count == 1)
    }

    @Test func acceptProxyNeedsExplicitSources() {
        let found = diagnostics("[[listener]]\nlisten = \"127.0.0.1:8443\"\naccept_proxy = true\n\n" + host)
        #expect(found.count == 1)
        #expect(found.first?.keyPath == "listener[0].accept_proxy")
        #expect(found.first?.line == 3)
        #expect(found.first?.message.contains("needs proxy_sources") == true)
        #expect(found.first?.description.hasPrefix("test.toml:3:") == true, "\(found)")
    }

    @Test func badEntriesNameTheirIndexAndLine() {
        let found = diagnostics("""
            [[listener]]
            listen = "127.0.0.1:8443"
            accept_proxy = true
            proxy_sources = ["10.0.0.0/8",
                             "10.1.2.3/8", "lb.internal"]

            """ + host)
        #expect(found.map(\.keyPath) == ["listener[0].proxy_sources[1]", "listener[0].proxy_sources[2]"])
        #expect(found.allSatisfy { $0.line == 4 }, "\(found)")
        #expect(found.first?.message.contains("did you mean \"10.0.0.0/8\"") == true)
        #expect(found.last?.message.contains("not a numeric") == true)
    }

    @Test func wrongTypesAndOrphanSources() {
        var found = diagnostics("[[listener]]\nlisten = \"127.0.0.1:8443\"\naccept_proxy = \"yes\"\n\n" + host)
        #expect(found.map(\.keyPath) == ["listener[0].accept_proxy"])
        #expect(found.first?.message.contains("expected true or false") == true)
        found = diagnostics("[[listener]]\nlisten = \"127.0.0.1:8443\"\nproxy_sources = [\"10.0.0.0/8\"]\n\n" + host)
        #expect(found.map(\.keyPath) == ["listener[0].proxy_sources"])
        #expect(found.first?.message.contains("accept_proxy is not true") == true)
        found = diagnostics("[[listener]]\nlisten = \"127.0.0.1:8443\"\naccept_proxy = true\nproxy_sources = []\n\n" + host)
        #expect(found.map(\.keyPath) == ["listener[0].proxy_sources"])
        #expect(found.first?.message.contains("at least one") == true)
        found = diagnostics("[[listener]]\nlisten = \"127.0.0.1:8443\"\naccept_proxy = true\nproxy_sources = [10]\n\n" + host)
        #expect(found.map(\.keyPath) == ["listener[0].proxy_sources[0]"])
        found = diagnostics("[[listener]]\nlisten = \"127.0.0.1:8443\"\naccept_proxi = true\n\n" + host)
        #expect(found.first?.message.contains("did you mean 'accept_proxy'") == true)
    }
}
