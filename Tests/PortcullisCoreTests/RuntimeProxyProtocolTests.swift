import Testing
@testable import PortcullisCore

/// PROXY protocol headers, byte for byte against HAProxy's doc/proxy-protocol.txt (sections 2.1 and 2.2).
@Suite struct RuntimeProxyProtocolTests {
    let client4 = SocketAddress(numericHost: "192.0.2.1", port: 51234)!
    let server4 = SocketAddress(numericHost: "198.51.100.7", port: 443)!
    let client6 = SocketAddress(numericHost: "2001:db8::1", port: 51234)!
    let server6 = SocketAddress(numericHost: "2001:db8::2", port: 443)!

    @Test func version1IPv4() {
        let header = ProxyProtocolHeader.v1(source: client4, destination: server4)
        #expect(String(decoding: header, as: UTF8.self) == "PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n")
    }

    @Test func version1IPv6UsesCanonicalText() {
        let header = ProxyProtocolHeader.v1(source: client6, destination: server6)
        #expect(String(decoding: header, as: UTF8.self) == "PROXY TCP6 2001:db8::1 2001:db8::2 51234 443\r\n")
    }

    @Test func version1MappedIPv4IsSentAsTCP4() {
        let mappedClient = SocketAddress(numericHost: "::ffff:192.0.2.1", port: 51234)!
        let mappedServer = SocketAddress(numericHost: "::ffff:198.51.100.7", port: 443)!
        let header = ProxyProtocolHeader.v1(source: mappedClient, destination: mappedServer)
        #expect(String(decoding: header, as: UTF8.self) == "PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n")
    }

    @Test func version1MixedFamiliesAreUnknown() {
        let header = ProxyProtocolHeader.v1(source: client4, destination: server6)
        #expect(String(decoding: header, as: UTF8.self) == "PROXY UNKNOWN\r\n")
        let unix = SocketAddress(unixPath: "/tmp/x.sock")!
        #expect(String(decoding: ProxyProtocolHeader.v1(source: unix, destination: unix), as: UTF8.self) == "PROXY UNKNOWN\r\n")
    }

    @Test func version1WorstCaseFitsTheSpecLimit() {
        let a = SocketAddress(numericHost: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", port: 65535)!
        let b = SocketAddress(numericHost: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd", port: 65535)!
        let header = ProxyProtocolHeader.v1(source: a, destination: b)
        #expect(header.count == 104)  // "TCP/IPv6 ... => 104 chars"
    }

    @Test func version2IPv4WithoutTLVs() throws {
        let header = try #require(ProxyProtocolHeader.v2(source: client4, destination: server4))
        let expected: [UInt8] = [
            0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
            0x21,  // version 2, PROXY
            0x11,  // AF_INET, STREAM
            0x00, 0x0C,  // 12 address bytes
            192, 0, 2, 1, 198, 51, 100, 7,  // src, dst
            0xC8, 0x22, 0x01, 0xBB,  // 51234, 443
        ]
        #expect(header == expected)
    }

    @Test func version2IPv6() throws {
        let header = try #require(ProxyProtocolHeader.v2(source: client6, destination: server6))
        var expected: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0x00, 0x24]
        expected += [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [0x01]
        expected += [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [0x02]
        expected += [0xC8, 0x22, 0x01, 0xBB]
        #expect(header == expected)
        #expect(header.count == 16 + 36)
    }

    @Test func version2WithALPNAuthorityAndSSLTLVs() throws {
        let tls = ProxyProtocolHeader.TLSDetails(
            version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256", certificateOnConnection: true,
            certificateInSession: true, verifyResult: 0, commonName: "client"
        )
        let header = try #require(ProxyProtocolHeader.v2(
            source: client4, destination: server4, alpn: Array("h2".utf8), authority: Array("example.com".utf8), tls: tls
        ))
        var expected: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11]
        expected += [0x00, 83]  // 12 address bytes + 5 ALPN + 14 authority + 52 SSL
        expected += [192, 0, 2, 1, 198, 51, 100, 7, 0xC8, 0x22, 0x01, 0xBB]
        expected += [0x01, 0x00, 0x02] + Array("h2".utf8)  // PP2_TYPE_ALPN
        expected += [0x02, 0x00, 0x0B] + Array("example.com".utf8)  // PP2_TYPE_AUTHORITY
        expected += [0x20, 0x00, 49]  // PP2_TYPE_SSL, value = 5 + 10 + 9 + 25
        expected += [0x07]  // PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS
        expected += [0x00, 0x00, 0x00, 0x00]  // verify: 0 = verified
        expected += [0x21, 0x00, 0x07] + Array("TLSv1.3".utf8)  // PP2_SUBTYPE_SSL_VERSION
        expected += [0x22, 0x00, 0x06] + Array("client".utf8)  // PP2_SUBTYPE_SSL_CN
        expected += [0x23, 0x00, 0x16] + Array("TLS_AES_128_GCM_SHA256".utf8)  // PP2_SUBTYPE_SSL_CIPHER
        #expect(header == expected)
    }

    @Test func version2WithoutClientCertificate() throws {
        let tls = ProxyProtocolHeader.TLSDetails(
            version: "TLSv1.2", cipher: nil, certificateOnConnection: false, certificateInSession: false,
            verifyResult: 1, commonName: nil
        )
        let header = try #require(ProxyProtocolHeader.v2(source: client4, destination: server4, tls: tls))
        let tail = Array(header[28...])
        // Only PP2_CLIENT_SSL, a non-zero verify, and the version sub-TLV.
        #expect(tail == [0x20, 0x00, 15, 0x01, 0x00, 0x00, 0x00, 0x01, 0x21, 0x00, 0x07] + Array("TLSv1.2".utf8))
        #expect(header[14] == 0x00 && header[15] == UInt8(12 + 18))
    }

    @Test func version2UnsupportedFamilyIsUnspecWithoutAddresses() throws {
        let unix = SocketAddress(unixPath: "/tmp/x.sock")!
        let header = try #require(ProxyProtocolHeader.v2(source: unix, destination: unix, authority: Array("a".utf8)))
        #expect(Array(header[12...]) == [0x21, 0x00, 0x00, 0x04, 0x02, 0x00, 0x01, 0x61])
    }
}
