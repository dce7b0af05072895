import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// `accept_proxy` on a listener: a load balancer's PROXY header (v1 or v2) in front of the TLS handshake,
    /// sent by Python over a raw socket before `wrap_socket`, as HAProxy or an AWS NLB would.
    @Suite struct AcceptProxy {
        let pki = IntegrationPKI.shared

        /// A listener with `accept_proxy` (sources: 127.0.0.1 only) in front of a host that sends PROXY v2 to an
        /// HTTP backend, so each test sees the whole chain: balancer -> Portcullis -> backend.
        private func start(backend: TestBackend, global: [String: String] = [:]) throws -> (ProxyProcess, UInt16) {
            let port = Ports.free()
            var config = ProxyConfigBuilder()
            for (key, value) in global { config.global[key] = value }
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                                  backends: ["127.0.0.1:\(backend.port)"], extra: ["proxy_protocol": tomlString("v2")])]
            config.listeners = [.init(name: "lb", port: port, hosts: ["a"], defaultHost: "a",
                                      extra: ["accept_proxy": "true", "proxy_sources": tomlArray(["127.0.0.1"])])]
            return (try ProxyProcess(config: config.toml, waitForPorts: [port]), port)
        }

        static func v1(_ line: String) -> [UInt8] { Array(line.utf8) }

        /// A v2 PROXY header over TCP/IPv4, with an AWS-style TLV (type 0xEA) the receiver must skip.
        static func v2(source: [UInt8], sourcePort: UInt16, destination: [UInt8], destinationPort: UInt16, command: UInt8 = 0x21) -> [UInt8] {
            let tlv: [UInt8] = [0xEA, 0x00, 0x09, 0x01] + Array("vpce-abc".utf8)
            let body = source + destination + [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF),
                                               UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF)] + tlv
            return ProxyV2Header.signature + [command, 0x11, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
        }

        @Test func v1HeaderMakesTheOriginalClientTheClient() throws {
            let backend = try TestBackend(mode: .http("hello"))
            let (proxy, port) = try start(backend: backend)
            defer { proxy.stop() }
            let result = try BalancedClient.run(port: port, ca: pki.serverCA, [
                .init(header: Self.v1("PROXY TCP4 203.0.113.7 198.51.100.10 51234 443\r\n")),
            ])[0]
            #expect(result.ok && result.received_text?.hasSuffix("hello") == true, "\(result)\n\(proxy.log)")
            let localPort = try #require(result.local_port)
            #expect(proxy.waitForLog("client=203.0.113.7:51234 via=127.0.0.1:\(localPort) listener=lb"), "\(proxy.log)")
            // The backend's own PROXY header carries the original client and the address it connected to.
            let bytes = [UInt8](backend.waitForConnections(1).first ?? Data())
            let header = try #require(ProxyV2Header(bytes), "\(bytes.prefix(64))")
            #expect(header.sourceAddress == "203.0.113.7" && header.destinationPort == 443)
            #expect(Array(bytes[16..<28]) == [203, 0, 113, 7, 198, 51, 100, 10, 0xC8, 0x22, 0x01, 0xBB])
        }

        @Test func v2HeaderAndHeadersSplitAcrossTwoSends() throws {
            let backend = try TestBackend(mode: .http("hello"))
            let (proxy, port) = try start(backend: backend)
            defer { proxy.stop() }
            let v2 = Self.v2(source: [203, 0, 113, 8], sourcePort: 40000, destination: [198, 51, 100, 10], destinationPort: 8443)
            let v1 = Self.v1("PROXY TCP4 203.0.113.9 198.51.100.10 40001 443\r\n")
            let results = try BalancedClient.run(port: port, ca: pki.serverCA, [
                .init(header: v2),
                // Inside the v2 signature, then inside the length: each peek sees a valid, incomplete header.
                .init(header: v2, split: 7, pause: 0.3),
                .init(header: v2, split: 15, pause: 0.3),
                // Inside the v1 address.
                .init(header: v1, split: 14, pause: 0.3),
            ])
            for result in results {
                #expect(result.ok && result.received_text?.hasSuffix("hello") == true, "\(result)\n\(proxy.log)")
            }
            #expect(proxy.waitForLog("client=203.0.113.8:40000 via=127.0.0.1:", count: 3), "\(proxy.log)")
            #expect(proxy.waitForLog("client=203.0.113.9:40001 via=127.0.0.1:"), "\(proxy.log)")
            let sources = backend.waitForConnections(4).compactMap { ProxyV2Header([UInt8]($0)) }.map(\.sourceAddress).sorted()
            #expect(sources == ["203.0.113.8", "203.0.113.8", "203.0.113.8", "203.0.113.9"])
        }

        @Test func v1IPv6AndV2LocalAndJSONLog() throws {
            let backend = try TestBackend(mode: .http("hello"))
            let (proxy, port) = try start(backend: backend, global: ["log_format": tomlString("json")])
            defer { proxy.stop() }
            let local = Self.v2(source: [192, 0, 2, 99], sourcePort: 1, destination: [192, 0, 2, 98], destinationPort: 2, command: 0x20)
            let results = try BalancedClient.run(port: port, ca: pki.serverCA, [
                .init(header: Self.v1("PROXY TCP6 2001:db8::7 2001:db8::1 1234 443\r\n")),
                .init(header: local, delay: 0.5),
            ])
            for result in results { #expect(result.ok, "\(result)\n\(proxy.log)") }
            #expect(proxy.waitForLog("\"via\":", count: 2), "\(proxy.log)")
            let records = proxy.logLines(containing: "\"via\":").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(records.count == 2, "every access-log line is JSON: \(proxy.log)")
            let ipv6 = records.first { ($0["client"] as? String)?.hasPrefix("[2001:db8::7]") == true }
            #expect(ipv6?["client"] as? String == "[2001:db8::7]:1234", "\(records)")
            #expect(ipv6?["via"] as? String == "127.0.0.1:\(results[0].local_port ?? 0)")
            // LOCAL (the balancer's own health check): the connection's own peer is the client.
            let localPort = results[1].local_port ?? 0
            let health = records.first { $0["client"] as? String == "127.0.0.1:\(localPort)" }
            #expect(health?["via"] as? String == "127.0.0.1:\(localPort)", "\(records)")
            // The backend header for the IPv6 client: TCP over IPv6 (0x21), source 2001:db8::7 port 1234.
            let headers = backend.waitForConnections(2).map { [UInt8]($0) }
            let tcp6 = try #require(headers.first { $0.count > 52 && $0[13] == 0x21 }, "\(headers.map { $0.prefix(16) })")
            #expect(Array(tcp6[16..<32]) == [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [7])
            #expect(Array(tcp6[48..<52]) == [0x04, 0xD2, 0x01, 0xBB])
        }

        @Test func badHeadersAndStrangersAreRefusedWithoutHurtingGoodClients() throws {
            let backend = try TestBackend(mode: .http("hello"))
            let (proxy, port) = try start(backend: backend, global: ["handshake_timeout": tomlString("1s")])
            defer { proxy.stop() }
            let good = Self.v1("PROXY TCP4 203.0.113.20 198.51.100.10 50000 443\r\n")
            let results = try BalancedClient.run(port: port, ca: pki.serverCA, [
                // 0: no header at all: straight into TLS.
                .init(header: []),
                // 1: garbage.
                .init(header: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
                // 2: a valid header from a peer that is not in proxy_sources (127.0.0.2 is loopback too).
                .init(header: good, source: "127.0.0.2"),
                // 3: half a header, then silence for longer than the handshake timeout.
                .init(header: Array("PROXY TCP4 ".utf8), tls: false, hold: 3),
                // 4-6: good clients, connecting while the bad ones are open.
                .init(header: good, delay: 0.3),
                .init(header: good, delay: 0.4),
                .init(header: good, delay: 0.5),
            ])
            for index in 0...3 { #expect(!results[index].ok, "bad client \(index) was served: \(results[index])") }
            for index in 4...6 {
                #expect(results[index].ok && results[index].received_text?.hasSuffix("hello") == true, "\(results[index])\n\(proxy.log)")
                #expect((results[index].done_at ?? 99) < 2.5, "a good client waited for a bad one: \(results[index])")
            }
            #expect(results[3].server_closed == true, "the stalled header is closed by the handshake timeout: \(results[3])")
            #expect(proxy.waitForLog("close=proxy_header_invalid", count: 3), "\(proxy.log)")
            #expect(proxy.logLines(containing: "close=proxy_header_invalid").contains { $0.contains("ClientHello") }, "\(proxy.log)")
            #expect(proxy.logLines(containing: "close=proxy_header_invalid").contains { $0.contains("not a PROXY protocol header") })
            #expect(proxy.logLines(containing: "close=proxy_header_invalid").contains {
                $0.contains("incomplete PROXY header (11 bytes) when the handshake timeout expired")
            }, "\(proxy.log)")
            let stranger = proxy.logLines(containing: "close=proxy_source_denied")
            // (Its local port is not checked: the reset can come before Python reads it back.)
            #expect(stranger.count == 1 && stranger.first?.contains(" client=127.0.0.2:") == true
                    && stranger.first?.contains(" via=- ") == true, "\(proxy.log)")
            #expect(proxy.logLines(containing: "client=203.0.113.20:50000 via=127.0.0.1:").count == 3, "\(proxy.log)")
            #expect(backend.waitForConnections(3).count == 3, "only the good clients reached the backend")
            #expect(backend.acceptedCount == 3)
        }
    }
}

/// Clients that play a load balancer: for each connection, a raw socket that sends a PROXY header (optionally in
/// two parts with a pause), then Python's `ssl` over the same socket, an HTTP/1.0 request and a read to the end.
/// All connections run at once, each in its own thread.
enum BalancedClient {
    struct Connection {
        var header: [UInt8]
        /// Bytes of the header in the first send (the rest follows after `pause`); nil: one send.
        var split: Int? = nil
        var pause: Double = 0
        /// Local address to connect from.
        var source: String = "127.0.0.1"
        /// Seconds to wait before connecting.
        var delay: Double = 0
        /// Do the TLS handshake and the request after the header; false: only wait `hold` seconds for the server
        /// to close.
        var tls: Bool = true
        var hold: Double = 0
    }

    struct Outcome: Decodable {
        let ok: Bool
        let error: String?
        let local_port: Int?
        let received_text: String?
        /// Seconds from the start of the run until this connection was done.
        let done_at: Double?
        /// With `tls: false`: the server closed the connection while the client held it.
        let server_closed: Bool?
    }

    static let script = #"""
    import json, socket, ssl, sys, threading, time
    args = json.loads(sys.argv[1])
    start = time.time()

    def one(spec, out, index):
        result = {"ok": False}
        try:
            time.sleep(spec["delay"])
            sock = socket.create_connection(("127.0.0.1", args["port"]), timeout=10, source_address=(spec["source"], 0))
            result["local_port"] = sock.getsockname()[1]
            header = bytes(spec["header"])
            try:
                if spec["split"] is not None:
                    sock.sendall(header[:spec["split"]]); time.sleep(spec["pause"]); sock.sendall(header[spec["split"]:])
                elif header:
                    sock.sendall(header)
                if not spec["tls"]:
                    sock.settimeout(spec["hold"])
                    try:
                        result["server_closed"] = sock.recv(1) == b""
                    except socket.timeout:
                        result["server_closed"] = False
                    except ConnectionResetError:
                        result["server_closed"] = True
                    raise RuntimeError("no TLS requested")
                ctx = ssl.create_default_context(cafile=args["ca"])
                ctx.check_hostname = False
                tls = ctx.wrap_socket(sock, server_hostname="a.example.com")
                tls.sendall(b"GET / HTTP/1.0\r\nHost: a.example.com\r\n\r\n")
                received = b""
                while True:
                    chunk = tls.recv(65536)
                    if not chunk: break
                    received += chunk
                result["received_text"] = received.decode("latin-1")
                result["ok"] = True
                tls.close()
            finally:
                sock.close()
        except Exception as e:
            result["error"] = "%s: %s" % (type(e).__name__, e)
        result["done_at"] = time.time() - start
        out[index] = result

    specs = args["connections"]
    out = [None] * len(specs)
    threads = [threading.Thread(target=one, args=(spec, out, i)) for i, spec in enumerate(specs)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps(out))
    """#

    static func run(port: UInt16, ca: String, _ connections: [Connection]) throws -> [Outcome] {
        let specs = connections.map { connection -> [String: Any] in
            ["header": connection.header.map(Int.init), "split": connection.split.map { $0 as Any } ?? NSNull(),
             "pause": connection.pause, "source": connection.source, "delay": connection.delay, "tls": connection.tls,
             "hold": connection.hold]
        }
        let object: [String: Any] = ["port": Int(port), "ca": ca, "connections": specs]
        let arguments = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        let result = try Run.command("/usr/bin/python3", ["-c", script, arguments], timeout: 40)
        guard !result.timedOut else { throw IntegrationError.timeout("python client timed out: \(result.stderr)") }
        let outcomes = try JSONDecoder().decode([Outcome].self, from: Data(result.stdout.utf8))
        guard outcomes.count == connections.count else {
            throw IntegrationError.setup("python client printed \(outcomes.count) results: \(result.stdout) \(result.stderr)")
        }
        return outcomes
    }
}
