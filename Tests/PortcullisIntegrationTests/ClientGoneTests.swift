import Foundation
import Testing

extension Integration {
    /// A client that has already gone when its handshake completes costs no backend connection; one that sent
    /// bytes before going still has them delivered.
    @Suite struct ClientGone {
        let pki = IntegrationPKI.shared

        private func start(backend: TestBackend) throws -> (ProxyProcess, UInt16) {
            let port = Ports.free()
            var config = ProxyConfigBuilder()
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                                  backends: ["127.0.0.1:\(backend.port)"], extra: ["proxy_protocol": tomlString("v2")])]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a"], defaultHost: "a")]
            return (try ProxyProcess(config: config.toml, waitForPorts: [port]), port)
        }

        @Test func aClientGoneAfterTheHandshakeGetsNoBackendConnection() throws {
            let backend = try TestBackend(mode: .http("hello"))
            let (proxy, port) = try start(backend: backend)
            defer { proxy.stop() }
            for close in [QuickClient.Close.closeNotify, .eof] {
                let outcome = try QuickClient.run(port: port, ca: pki.serverCA, text: nil, close: close)
                #expect(outcome.handshake == true, "\(outcome)\n\(proxy.log)")
            }
            #expect(proxy.waitForLog("close=client_gone", count: 2), "\(proxy.log)")
            #expect(proxy.logLines(containing: "close=client_gone").allSatisfy { $0.contains("backend=- ") && $0.contains("no backend connection was opened") },
                    "\(proxy.log)")
            usleep(300_000)
            #expect(backend.acceptedCount == 0, "the backend saw \(backend.acceptedCount) connection(s) for clients that had gone")
        }

        @Test func bytesSentJustBeforeClosingStillReachTheBackend() throws {
            let backend = try TestBackend(mode: .http("hello"))
            let (proxy, port) = try start(backend: backend)
            defer { proxy.stop() }
            let request = "GET / HTTP/1.0\r\nHost: a.example.com\r\n\r\n"
            // Finished, the request and close_notify in one segment, then FIN: all there at handshake completion.
            let outcome = try QuickClient.run(port: port, ca: pki.serverCA, text: request, close: .closeNotify)
            #expect(outcome.handshake == true, "\(outcome)")
            #expect(outcome.plaintext?.hasSuffix("hello") == true, "the response still comes back: \(outcome)\n\(proxy.log)")
            // The same without close_notify (TCP FIN only): delivered, then the backend is reset (truncation).
            let truncated = try QuickClient.run(port: port, ca: pki.serverCA, text: request, close: .eof)
            #expect(truncated.handshake == true, "\(truncated)")
            let received = backend.waitForConnections(2).map { [UInt8]($0) }
            #expect(received.count == 2, "both clients reached the backend")
            for bytes in received {
                let header = try #require(ProxyV2Header(bytes), "the backend's PROXY header comes first: \(bytes.prefix(32))")
                #expect(Array(bytes[(16 + header.length)...]) == Array(request.utf8), "exactly the request follows the header")
            }
            // Both end with the backend reset. Which the log names depends on what the worker sees first: the
            // client's FIN (`truncated`), or the backend's answer, whose relay then meets the closed client
            // (`client_reset`).
            #expect(proxy.waitForLog("bytes_in=\(request.utf8.count) ", count: 2), "\(proxy.log)")
            let lines = proxy.logLines(containing: "bytes_in=\(request.utf8.count) ")
            #expect(lines.count == 2, "\(proxy.log)")
            #expect(lines.contains { $0.contains("close=client_close") }, "\(proxy.log)")
            #expect(lines.contains { $0.contains("close=truncated") || $0.contains("close=client_reset") }, "\(proxy.log)")
            #expect(proxy.logLines(containing: "close=client_gone").isEmpty, "\(proxy.log)")
        }
    }
}

/// A TLS 1.3 client (Python's `ssl` on memory BIOs) that holds its last handshake flight back and sends it in
/// one segment with an optional request and its close (close_notify then FIN, or FIN alone), so all of it is in
/// the proxy's socket when the handshake completes there. Then it reads to the end and decrypts what came back.
enum QuickClient {
    enum Close: String { case closeNotify = "close_notify", eof }

    struct Outcome: Decodable {
        let handshake: Bool?
        let plaintext: String?
        let error: String?
    }

    static let script = #"""
    import json, socket, ssl, sys
    args = json.loads(sys.argv[1])
    result = {}
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(args["ca"])
        ctx.check_hostname = False
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        sock = socket.create_connection(("127.0.0.1", args["port"]), timeout=10)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(incoming, outgoing, server_hostname="a.example.com")
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                data = outgoing.read()
                if data: sock.sendall(data)
                chunk = sock.recv(65536)
                if not chunk: raise RuntimeError("EOF during the handshake")
                incoming.write(chunk)
        result["handshake"] = True
        # `outgoing` still holds the client Finished.
        if args["text"] is not None: tls.write(args["text"].encode())
        if args["close"] == "close_notify":
            try: tls.unwrap()
            except ssl.SSLWantReadError: pass
        sock.sendall(outgoing.read())
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while True:
            try: chunk = sock.recv(65536)
            except ConnectionResetError: break
            if not chunk: break
            received += chunk
        incoming.write(received)
        plaintext = b""
        while True:
            try:
                chunk = tls.read(65536)
                if not chunk: break
                plaintext += chunk
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError, ssl.SSLEOFError): break
        result["plaintext"] = plaintext.decode("latin-1")
        sock.close()
    except Exception as e:
        result["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(result))
    """#

    static func run(port: UInt16, ca: String, text: String?, close: Close) throws -> Outcome {
        let object: [String: Any] = ["port": Int(port), "ca": ca, "text": text.map { $0 as Any } ?? NSNull(), "close": close.rawValue]
        let arguments = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        let result = try Run.command("/usr/bin/python3", ["-c", script, arguments], timeout: 30)
        guard !result.timedOut else { throw IntegrationError.timeout("python client timed out: \(result.stderr)") }
        return try JSONDecoder().decode(Outcome.self, from: Data(result.stdout.utf8))
    }
}
