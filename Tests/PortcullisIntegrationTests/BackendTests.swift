import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// Backends that are down, failover, and the PROXY protocol header as the backend sees it.
    @Suite struct Backends {
        let pki = IntegrationPKI.shared

        private func start(backends: [String], extra: [String: String] = [:]) throws -> (ProxyProcess, UInt16) {
            let port = Ports.free()
            var config = ProxyConfigBuilder()
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                                  backends: backends, extra: extra)]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a")]
            return (try ProxyProcess(config: config.toml, waitForPorts: [port]), port)
        }

        @Test func aDownBackendGivesACleanCloseAndALogLine() throws {
            let deadPort = Ports.free()  // nothing listens here
            let (proxy, port) = try start(backends: ["127.0.0.1:\(deadPort)"])
            defer { proxy.stop() }
            let outcome = try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                        sendText: "anyone?", halfClose: false, timeout: 15))[0]
            #expect(outcome.received ?? 0 == 0)
            #expect(outcome.close == "close_notify", "the client gets a clean TLS close, not a hang or a reset: \(outcome)")
            #expect(proxy.waitForLog("127.0.0.1:\(deadPort)", timeout: 5), "\(proxy.log)")
            #expect(proxy.logLines(containing: "127.0.0.1:\(deadPort)").contains { $0.contains("refused") || $0.contains("backend") },
                    "\(proxy.log)")
        }

        @Test func failoverMovesToTheNextBackend() throws {
            let deadPort = Ports.free()
            let alive = try TestBackend(mode: .echo)
            let (proxy, port) = try start(backends: ["127.0.0.1:\(deadPort)", "127.0.0.1:\(alive.port)"])
            defer { proxy.stop() }
            for round in 0..<4 {
                let outcome = try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                            sendText: "round \(round)", halfClose: true))[0]
                #expect(outcome.ok && outcome.received_text == "round \(round)", "\(outcome.error ?? "")\n\(proxy.log)")
            }
            #expect(alive.acceptedCount == 4)
        }

        /// Names are resolved by the control thread at startup: one that resolves is served, one that does
        /// not is a warning at startup (not an error), and its clients get a clean close.
        @Test func backendNamesAreResolvedAtStartup() throws {
            let alive = try TestBackend(mode: .echo)
            let (proxy, port) = try start(backends: ["localhost:\(alive.port)", "no-such-backend.invalid:\(alive.port)"])
            defer { proxy.stop() }
            #expect(proxy.waitForLog("backend no-such-backend.invalid:\(alive.port) does not resolve; clients of its host get backend_unavailable until it does"),
                    "\(proxy.log)")
            #expect(!proxy.log.contains("backend localhost:\(alive.port) does not resolve"), "\(proxy.log)")
            for round in 0..<3 {
                let outcome = try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                            sendText: "name \(round)", halfClose: true, timeout: 15))[0]
                #expect(outcome.received_text == "name \(round)", "\(outcome)\n\(proxy.log)")
            }
            #expect(proxy.waitForLog("backend=localhost:\(alive.port) ", count: 3), "\(proxy.log)")
        }

        @Test func unixSocketBackend() throws {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("pc-\(getpid())-\(UInt16.random(in: 0...9999)).sock").path
            let server = try UnixEchoServer(path: path)
            defer { server.stop() }
            let (proxy, port) = try start(backends: ["unix:\(path)"])
            defer { proxy.stop() }
            let outcome = try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                        sendText: "over a unix socket", halfClose: true))[0]
            #expect(outcome.ok && outcome.received_text == "over a unix socket", "\(outcome.error ?? "")\n\(proxy.log)")
        }

        @Test func proxyProtocolV1() throws {
            let backend = try TestBackend(mode: .greet(""))
            let (proxy, port) = try start(backends: ["127.0.0.1:\(backend.port)"], extra: ["proxy_protocol": tomlString("v1")])
            defer { proxy.stop() }
            let outcome = try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                        sendText: "payload", halfClose: true))[0]
            #expect(outcome.ok, "\(outcome.error ?? "")")
            let received = backend.waitForConnections(1).first ?? Data()
            let text = String(decoding: received, as: UTF8.self)
            let header = text.components(separatedBy: "\r\n").first ?? ""
            let fields = header.split(separator: " ")
            #expect(fields.count == 6, "\(header)")
            #expect(fields.first == "PROXY" && fields.dropFirst().first == "TCP4")
            #expect(fields.dropFirst(2).first == "127.0.0.1" && fields.dropFirst(3).first == "127.0.0.1")
            #expect(fields.last == "\(port)", "destination port is the listener's")
            #expect(text.hasSuffix("\r\npayload"))
        }

        @Test func proxyProtocolV2CarriesTLSDetails() throws {
            let backend = try TestBackend(mode: .greet(""))
            var extra = ["proxy_protocol": tomlString("v2"), "alpn": tomlArray(["h2", "http/1.1"])]
            extra["client_verify"] = tomlString("require")
            extra["client_ca_file"] = tomlString(pki.clientCA)
            let (proxy, port) = try start(backends: ["127.0.0.1:\(backend.port)"], extra: extra)
            defer { proxy.stop() }
            var options = PythonTLSClient.Options(port: port, sni: "a.example.com", caFile: pki.serverCA,
                                                  certFile: pki.cert("good"), keyFile: pki.key("good"), sendText: "payload")
            options.alpn = ["http/1.1"]
            let outcome = try PythonTLSClient.run(options)[0]
            #expect(outcome.ok, "\(outcome.error ?? "")\n\(proxy.log)")
            let bytes = [UInt8](backend.waitForConnections(1).first ?? Data())
            let header = try #require(ProxyV2Header(bytes), "not a PROXY v2 header: \(bytes.prefix(64))")
            #expect(header.command == 0x1 && header.family == 0x11, "PROXY, TCP over IPv4")
            #expect(header.sourceAddress == "127.0.0.1" && header.destinationPort == port)
            #expect(header.tlvs[0x01] == Array("http/1.1".utf8), "ALPN TLV")
            #expect(header.tlvs[0x02] == Array("a.example.com".utf8), "authority (SNI) TLV")
            let ssl = try #require(header.tlvs[0x20], "SSL TLV")
            #expect(ssl.first.map { $0 & 0x01 } == 0x01, "PP2_CLIENT_SSL")
            let sub = ProxyV2Header.subTLVs(Array(ssl.dropFirst(5)))
            #expect(sub[0x21].map { String(decoding: $0, as: UTF8.self) }?.hasPrefix("TLSv1.") == true, "version sub-TLV")
            #expect(sub[0x22].map { String(decoding: $0, as: UTF8.self) } == "good-client", "client CN sub-TLV")
            #expect(sub[0x23] != nil, "cipher sub-TLV")
            #expect(Array(bytes[(16 + header.length)...]) == Array("payload".utf8))
        }
    }
}

/// A parsed PROXY protocol v2 header (haproxy's proxy-protocol.txt, section 2.2).
struct ProxyV2Header {
    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    let command: UInt8
    let family: UInt8
    let length: Int
    let sourceAddress: String
    let destinationPort: UInt16
    let tlvs: [UInt8: [UInt8]]

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 16, Array(bytes[0..<12]) == Self.signature, bytes[12] >> 4 == 2 else { return nil }
        command = bytes[12] & 0x0F
        family = bytes[13]
        length = Int(bytes[14]) << 8 | Int(bytes[15])
        guard bytes.count >= 16 + length, family == 0x11, length >= 12 else { return nil }
        let body = Array(bytes[16..<(16 + length)])
        sourceAddress = body[0..<4].map(String.init).joined(separator: ".")
        destinationPort = UInt16(body[10]) << 8 | UInt16(body[11])
        tlvs = Self.subTLVs(Array(body[12...]))
    }

    /// Type-length-value list: 1 byte type, 2 bytes big-endian length.
    static func subTLVs(_ bytes: [UInt8]) -> [UInt8: [UInt8]] {
        var result: [UInt8: [UInt8]] = [:]
        var offset = 0
        while offset + 3 <= bytes.count {
            let type = bytes[offset]
            let length = Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
            guard offset + 3 + length <= bytes.count else { break }
            result[type] = Array(bytes[(offset + 3)..<(offset + 3 + length)])
            offset += 3 + length
        }
        return result
    }
}

/// An echo server on a unix stream socket.
final class UnixEchoServer: @unchecked Sendable {
    private let fd: Int32
    private let path: String

    init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw IntegrationError.setup("unix bind \(path): \(errno)") }
        Thread.detachNewThread { [fd] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                Thread.detachNewThread {
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    while true {
                        let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                        if n <= 0 { break }
                        _ = buffer.withUnsafeBytes { send(client, $0.baseAddress, n, Int32(MSG_NOSIGNAL)) }
                    }
                    shutdown(client, Int32(SHUT_WR))
                    close(client)
                }
            }
        }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        unlink(path)
    }
}
