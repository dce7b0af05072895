import Foundation

/// A TLS client written with Python's `ssl` module (memory BIOs over a plain socket, so it can half-close:
/// send close_notify and keep reading). It prints one JSON object per connection; `PythonTLSClient.run` decodes it.
enum PythonTLSClient {
    struct Outcome: Decodable {
        let ok: Bool
        let error: String?
        let version: String?
        let cipher: String?
        let alpn: String?
        let peer_subject_cn: String?
        let reused: Bool?
        let sent: Int?
        let sent_sha256: String?
        let received: Int?
        let received_sha256: String?
        let received_text: String?
        let close: String?
    }

    struct Options {
        var port: UInt16
        var sni: String? = nil
        var caFile: String? = nil
        var certFile: String? = nil
        var keyFile: String? = nil
        var alpn: [String] = []
        var minVersion: String? = nil
        var maxVersion: String? = nil
        var ciphers: String? = nil
        /// Bytes of deterministic pseudo-random payload to send after the handshake.
        var sendBytes: Int = 0
        /// Literal text to send (instead of `sendBytes`).
        var sendText: String? = nil
        /// After sending, send close_notify and keep reading (half-close); otherwise keep the write side open
        /// until the server closes.
        var halfClose: Bool = true
        /// How many sequential connections, each offering the previous connection's session.
        var connections: Int = 1
        /// Per-connection SNI overrides (connection i uses `perConnectionSNI[i]` when present).
        var perConnectionSNI: [String] = []
        var timeout: Double = 30
    }

    static let script = #"""
    import hashlib, json, os, select, socket, ssl, sys, time

    def payload(n):
        out = bytearray(); block = b"portcullis"; counter = 0
        while len(out) < n:
            block = hashlib.sha256(block + counter.to_bytes(8, "big")).digest(); counter += 1; out += block * 64
        return bytes(out[:n])

    def make_context(args):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if args["ca"]: ctx.load_verify_locations(args["ca"])
        else:
            ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
        ctx.check_hostname = False  # the tests check which certificate came back themselves
        if args["cert"]: ctx.load_cert_chain(args["cert"], args["key"])
        if args["alpn"]: ctx.set_alpn_protocols(args["alpn"])
        versions = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
        if args["min"]: ctx.minimum_version = versions[args["min"]]
        if args["max"]: ctx.maximum_version = versions[args["max"]]
        if args["ciphers"]: ctx.set_ciphers(args["ciphers"])
        return ctx

    def one(args, ctx, session, sni):
        result = {"ok": False}
        sock = socket.create_connection(("127.0.0.1", args["port"]), timeout=args["timeout"])
        sock.setblocking(False)
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_side=False, server_hostname=sni, session=session)
        deadline = time.time() + args["timeout"]
        def flush():
            data = out.read()
            while data:
                select.select([], [sock], [], max(0.0, deadline - time.time()))
                try: n = sock.send(data); data = data[n:]
                except BlockingIOError: pass
        def feed():
            r, _, _ = select.select([sock], [], [], max(0.0, deadline - time.time()))
            if not r: raise TimeoutError("timed out waiting for the proxy")
            chunk = sock.recv(262144)
            if chunk: inc.write(chunk)
            else: inc.write_eof()
            return bool(chunk)
        try:
            while True:
                try: obj.do_handshake(); flush(); break
                except ssl.SSLWantReadError:
                    flush(); feed()
            result.update(version=obj.version(), cipher=obj.cipher()[0], alpn=obj.selected_alpn_protocol())
            cert = obj.getpeercert()
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName": result["peer_subject_cn"] = v
            data = args["text"].encode() if args["text"] is not None else payload(args["send"])
            result["sent"] = len(data); result["sent_sha256"] = hashlib.sha256(data).hexdigest()
            received = bytearray(); offset = 0; closed_write = False; close = None
            while close is None:
                if offset < len(data):
                    offset += obj.write(data[offset:offset + 65536]); flush()
                try:
                    chunk = obj.read(262144)
                    if chunk: received += chunk; continue
                    close = "close_notify"
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLZeroReturnError: close = "close_notify"
                except ssl.SSLEOFError: close = "unexpected_eof"
                except ssl.SSLError as e: close = "error: %s" % e
                if close is not None: break
                # Half-close: send close_notify once everything is written. CPython's unwrap() calls
                # SSL_shutdown twice, and the second call fails on application data already waiting in the
                # incoming BIO, so only call it when that BIO is empty (we control when it is fed).
                if offset >= len(data) and args["halfclose"] and not closed_write and inc.pending == 0:
                    try: obj.unwrap()
                    except ssl.SSLWantReadError: pass
                    flush(); closed_write = True
                if offset < len(data):
                    r, _, _ = select.select([sock], [], [], 0)
                    if r: feed()
                else:
                    feed()
            result.update(received=len(received), received_sha256=hashlib.sha256(received).hexdigest(), close=close)
            if len(received) <= 4096: result["received_text"] = received.decode("latin-1")
            result["reused"] = obj.session_reused
            result["ok"] = True
            return result, obj.session
        except Exception as e:
            result["error"] = "%s: %s" % (type(e).__name__, e)
            return result, None
        finally:
            sock.close()

    args = json.loads(sys.argv[1])
    ctx = make_context(args)
    session = None
    for i in range(args["connections"]):
        snis = args["snis"]
        r, s = one(args, ctx, session, snis[i] if i < len(snis) else args["sni"])
        if s is not None: session = s
        print(json.dumps(r), flush=True)
    """#

    /// Runs the client; one `Outcome` per connection.
    static func run(_ options: Options) throws -> [Outcome] {
        let arguments: [String: Any?] = [
            "port": Int(options.port), "sni": options.sni, "ca": options.caFile, "cert": options.certFile,
            "key": options.keyFile, "alpn": options.alpn, "min": options.minVersion, "max": options.maxVersion,
            "ciphers": options.ciphers, "send": options.sendBytes, "text": options.sendText,
            "halfclose": options.halfClose, "connections": options.connections, "timeout": options.timeout,
            "snis": options.perConnectionSNI,
        ]
        let json = try JSONSerialization.data(withJSONObject: arguments.mapValues { $0 ?? NSNull() })
        let result = try Run.command("/usr/bin/python3", ["-c", script, String(decoding: json, as: UTF8.self)],
                                     timeout: options.timeout * Double(options.connections) + 10)
        guard !result.timedOut else { throw IntegrationError.timeout("python TLS client timed out: \(result.stderr)") }
        let decoder = JSONDecoder()
        let outcomes = try result.stdout.split(separator: "\n").map {
            try decoder.decode(Outcome.self, from: Data($0.utf8))
        }
        guard outcomes.count == options.connections else {
            throw IntegrationError.setup("python TLS client printed \(outcomes.count) results: \(result.stdout) \(result.stderr)")
        }
        return outcomes
    }

    /// The payload the script sends for `sendBytes: n`, for comparing with what the backend received.
    static func expectedPayloadSHA256(_ n: Int) throws -> String {
        let code = script.components(separatedBy: "def one(")[0]
            + "\nprint(hashlib.sha256(payload(\(n))).hexdigest())\n"
        let result = try Run.command("/usr/bin/python3", ["-c", code], timeout: 30)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
