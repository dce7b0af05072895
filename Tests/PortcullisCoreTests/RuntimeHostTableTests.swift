import Glibc
import Logging
import OpenSSLSSL
import Testing
@testable import PortcullisCore

/// The runtime serving a real compiled `HostTable`: SNI selects the host, and with it the backend.
@Suite struct RuntimeHostTableTests {
    @Test func sniRoutesToEachHostsBackend() throws {
        let pki = try RuntimeTestPKI.shared()
        let backendA = try TestBackend()
        let backendB = try TestBackend()
        let certificate = CertificateConfiguration(chainFile: pki.serverCert, keyFile: pki.serverKey)
        let configuration = ProxyConfiguration(
            workers: 1,
            listeners: [ListenerConfiguration(name: "main", addresses: [ListenAddress(host: "127.0.0.1", port: 0, family: .ipv4)],
                                              hosts: ["a", "b"], defaultHost: "a")],
            hosts: [
                HostConfiguration(name: "a", serverNames: ["localhost"], certificates: [certificate], backends: [backendA.address]),
                HostConfiguration(name: "b", serverNames: ["*.example.org"], certificates: [certificate],
                                  backends: [backendB.address], proxyProtocol: .v2),
            ]
        )
        var logger = Logger(label: "host-table-test")
        logger.logLevel = .critical
        let table = try HostTable.compile(configuration, logger: logger)
        let proxy = try RunningProxy(router: table)
        defer { proxy.stop() }

        for (serverName, backend, host) in [("localhost", backendA, "a"), ("api.example.org", backendB, "b"), (nil, backendA, "a")] {
            let client = try TestTLSClient(port: proxy.port, context: pki.clientContext(), serverName: serverName)
            try client.handshake()
            try client.send(Array("to \(host)".utf8))
            try client.closeNotify()
            let upstream = try backend.accept()
            defer { close(upstream) }
            let (bytes, end) = TestSocket.readToEnd(upstream)
            #expect(end == .eof)
            if host == "b" {
                // PROXY v2 first, with the SNI name as the authority TLV.
                #expect(Array(bytes.prefix(12)) == ProxyProtocolHeader.v2Signature)
                let length = Int(bytes[14]) << 8 | Int(bytes[15])
                let tlvs = parseTLVs(Array(bytes[28..<(16 + length)]))
                #expect(tlvs[0x02] == Array("api.example.org".utf8))
                #expect(Array(bytes[(16 + length)...]) == Array("to b".utf8))
            } else {
                #expect(bytes == Array("to \(host)".utf8))
            }
            shutdown(upstream, Connection.SHUT_WR)
            #expect(try client.receiveUntilCloseNotify().isEmpty)
        }
        let records = proxy.records.waitFor(count: 3)
        #expect(records.map(\.host) == ["a", "b", "a"])
        #expect(records.map(\.serverName) == ["localhost", "api.example.org", nil])
    }
}
