import Foundation
import Testing

extension Integration {
    /// `ocsp_response_file` on the real binary, checked with `openssl s_client -status`: each host and each
    /// certificate staples its own response, only to clients that ask and only while it is current; a
    /// reload re-reads the files; `check` refuses a response for another certificate.
    @Suite struct OCSPStapling {
        let pki = IntegrationPKI.shared

        /// Two hosts: `a` (RSA) and `b` (ECDSA `b` + RSA `b-rsa`), each certificate with its own response.
        private func start(
            responder: OCSPResponder, responses: [String: String], metricsPort: UInt16? = nil
        ) throws -> (ProxyProcess, UInt16, [TestBackend]) {
            let port = Ports.free()
            let backendA = try TestBackend(mode: .greet("backend-a\n"))
            let backendB = try TestBackend(mode: .greet("backend-b\n"))
            var ocsp: [String: String] = [:]   // chain file -> response
            for name in ["a", "b", "b-rsa"] {
                if let response = responses[name] { ocsp[try responder.chain(name)] = response }
            }
            var config = ProxyConfigBuilder()
            if let metricsPort { config.global["metrics_listen"] = tomlString("127.0.0.1:\(metricsPort)") }
            config.hosts = [
                .init(name: "a", names: ["a.example.com"], certificates: [(try responder.chain("a"), pki.key("a"))],
                      backends: ["127.0.0.1:\(backendA.port)"], ocspResponses: ocsp),
                .init(name: "b", names: ["b.example.com"],
                      certificates: [(try responder.chain("b"), pki.key("b")), (try responder.chain("b-rsa"), pki.key("b-rsa"))],
                      backends: ["127.0.0.1:\(backendB.port)"], ocspResponses: ocsp),
            ]
            config.listeners = [.init(name: "tls", port: port, hosts: ["a", "b"], defaultHost: "a")]
            let proxy = try ProxyProcess(config: config.toml, waitForPorts: [port] + (metricsPort.map { [$0] } ?? []))
            return (proxy, port, [backendA, backendB])
        }

        private func status(_ port: UInt16, _ name: String, extra: [String] = ["-status"]) throws -> SClient.Outcome {
            try SClient.connect(port: port, servername: name, caFile: pki.serverCA, extra: extra)
        }

        @Test func eachHostStaplesItsOwnResponse() throws {
            let responder = try OCSPResponder(pki)
            let responses = ["a": try responder.response(for: "a"), "b": try responder.response(for: "b")]
            let metricsPort = Ports.free()
            let (proxy, port, _) = try start(responder: responder, responses: responses, metricsPort: metricsPort)
            defer { proxy.stop() }
            for name in ["a", "b"] {
                let outcome = try status(port, "\(name).example.com", extra: ["-status", "-sigalgs", "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256"])
                #expect(outcome.handshakeSucceeded, "\(outcome.output)")
                #expect(outcome.output.contains("OCSP Response Status: successful"), "\(outcome.output)")
                #expect(outcome.output.contains("Cert Status: good"), "\(outcome.output)")
                #expect(OCSPResponder.stapledSerials(outcome.output) == [try responder.serial(name)], "\(outcome.output)")
            }
            // The gauge has each loaded response's nextUpdate; the counter counts stapled connections as
            // they close.
            let deadline = Date().addingTimeInterval(5)
            var scrape = try Scrape(port: metricsPort)
            while (scrape.value("portcullis_ocsp_stapled_total", ["host": "a"]) < 1
                   || scrape.value("portcullis_ocsp_stapled_total", ["host": "b"]) < 1) && Date() < deadline {
                usleep(50_000)
                scrape = try Scrape(port: metricsPort)
            }
            #expect(scrape.value("portcullis_ocsp_stapled_total", ["host": "a"]) == 1, "\(scrape.text)")
            #expect(scrape.value("portcullis_ocsp_stapled_total", ["host": "b"]) == 1, "\(scrape.text)")
            // The serial label is written as the certificate expiry gauge writes it: hex without leading zeros.
            var serial = Substring(try responder.serial("a"))
            while serial.count > 1 && serial.hasPrefix("0") { serial = serial.dropFirst() }
            let nextUpdate = scrape.value("portcullis_ocsp_response_next_update_timestamp_seconds",
                                          ["host": "a", "subject": "/CN=a.example.com", "serial": String(serial)])
            #expect(abs(nextUpdate - (Date().timeIntervalSince1970 + 86_400)) < 300, "\(scrape.text)")
        }

        @Test func rsaAndECDSACertificatesEachStapleTheirOwn() throws {
            let responder = try OCSPResponder(pki)
            let (proxy, port, _) = try start(responder: responder, responses: [
                "b": try responder.response(for: "b"), "b-rsa": try responder.response(for: "b-rsa"),
            ])
            defer { proxy.stop() }
            let choices: [(extra: [String], served: String)] = [
                (["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], "b-rsa"),
                (["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], "b"),
                (["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"], "b-rsa"),
                (["-tls1_3", "-sigalgs", "ecdsa_secp256r1_sha256"], "b"),
            ]
            for (extra, served) in choices {
                let outcome = try status(port, "b.example.com", extra: ["-status"] + extra)
                #expect(outcome.handshakeSucceeded, "\(extra): \(outcome.output)")
                #expect(OCSPResponder.stapledSerials(outcome.output) == [try responder.serial(served)], "\(extra): \(outcome.output)")
                #expect(outcome.output.contains("Cert Status: good"), "\(extra): \(outcome.output)")
            }
        }

        @Test func noStapleWithoutStatusRequestOrAfterExpiry() throws {
            let responder = try OCSPResponder(pki)
            let expired = try responder.expiredResponse(for: "a")
            let (proxy, port, _) = try start(responder: responder, responses: ["a": expired, "b": try responder.response(for: "b")])
            defer { proxy.stop() }
            #expect(proxy.log.contains("OCSP response \(expired) expired at"), "\(proxy.log)")
            let unasked = try status(port, "b.example.com", extra: [])
            #expect(unasked.handshakeSucceeded, "\(unasked.output)")
            #expect(!unasked.output.contains("OCSP"), "\(unasked.output)")
            let expiredOutcome = try status(port, "a.example.com")
            #expect(expiredOutcome.handshakeSucceeded, "\(expiredOutcome.output)")
            #expect(expiredOutcome.output.contains("OCSP response: no response sent"), "\(expiredOutcome.output)")
            // The same response, verified by openssl itself, is indeed past its nextUpdate.
            let verdict = try Run.command("/usr/bin/openssl", [
                "ocsp", "-respin", expired, "-issuer", pki.serverCA, "-cert", pki.cert("a"), "-CAfile", pki.serverCA,
            ], timeout: 30)
            #expect((verdict.stdout + verdict.stderr).lowercased().contains("status expired"), "\(verdict.stdout)\(verdict.stderr)")
        }

        @Test func aReloadStaplesTheNewResponse() throws {
            let responder = try OCSPResponder(pki)
            let file = try responder.response(for: "a")
            let (proxy, port, _) = try start(responder: responder, responses: ["a": file])
            defer { proxy.stop() }
            #expect(try status(port, "a.example.com").output.contains("Cert Status: good"))
            // What an operator's cron job does: a new response into the same file, then a reload.
            try FileManager.default.removeItem(atPath: file)
            try FileManager.default.copyItem(atPath: try responder.response(for: "a", database: .revoked), toPath: file)
            proxy.signal(SIGHUP)
            #expect(proxy.waitForLog("configuration reloaded", timeout: 10), "\(proxy.log)")
            #expect(proxy.log.contains("REVOKED"), "\(proxy.log)")
            let after = try status(port, "a.example.com")
            #expect(after.output.contains("Cert Status: revoked"), "\(after.output)")
            #expect(after.output.contains("Revocation Reason: keyCompromise"), "\(after.output)")
            // A broken file makes the reload fail and keeps the response already loaded.
            try Data("garbage".utf8).write(to: URL(fileURLWithPath: file))
            proxy.signal(SIGHUP)
            #expect(proxy.waitForLog("reload failed", timeout: 10), "\(proxy.log)")
            #expect(proxy.log.contains(file), "\(proxy.log)")
            #expect(try status(port, "a.example.com").output.contains("Cert Status: revoked"))
        }

        @Test func checkRefusesAResponseForAnotherCertificate() throws {
            let responder = try OCSPResponder(pki)
            let wrong = try responder.response(for: "b")
            var config = ProxyConfigBuilder()
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(try responder.chain("a"), pki.key("a"))],
                                  backends: ["127.0.0.1:9"], ocspResponses: [try responder.chain("a"): wrong])]
            config.listeners = [.init(name: "tls", port: 8443, hosts: ["a"], defaultHost: "a")]
            let path = responder.path("check-\(UUID().uuidString).toml")
            try config.toml.write(toFile: path, atomically: true, encoding: .utf8)
            let result = try Run.command(BinaryLocator.portcullis.path, ["check", "--config", path], timeout: 30)
            let output = result.stdout + result.stderr
            #expect(result.status == 1, "\(output)")
            #expect(output.contains("host[0].certificates[0].ocsp_response_file"), "\(output)")
            #expect(output.contains("\(wrong) is for another certificate"), "\(output)")
            #expect(output.contains("\(path):"), "\(output)")

            config.hosts[0].ocspResponses = [try responder.chain("a"): try responder.response(for: "a")]
            try config.toml.write(toFile: path, atomically: true, encoding: .utf8)
            let good = try Run.command(BinaryLocator.portcullis.path, ["check", "--config", path], timeout: 30)
            #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        }
    }
}

/// An OCSP responder for `IntegrationPKI`'s server CA, run with `openssl ocsp` over an `index.txt` in a temp
/// dir. Chain files put the CA after each leaf (the issuer the proxy checks responses against).
struct OCSPResponder {
    enum Database: String { case good, revoked }

    let pki: IntegrationPKI
    let directory: String

    init(_ pki: IntegrationPKI) throws {
        self.pki = pki
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-ocsp-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var good = "", revoked = ""
        for name in ["a", "b", "b-rsa"] {
            let serial = try serial(name)
            good += "V\t301231235959Z\t\t\(serial)\tunknown\t/CN=\(name)\n"
            revoked += "R\t301231235959Z\t231101000000Z,keyCompromise\t\(serial)\tunknown\t/CN=\(name)\n"
        }
        try good.write(toFile: path("good.txt"), atomically: true, encoding: .utf8)
        try revoked.write(toFile: path("revoked.txt"), atomically: true, encoding: .utf8)
    }

    func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// The certificate's serial as openssl prints it (upper-case hex).
    func serial(_ name: String) throws -> String {
        let output = try openssl(["x509", "-in", pki.cert(name), "-noout", "-serial"])
        return String(output.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst("serial=".count))
    }

    /// The leaf of `name` followed by the server CA.
    func chain(_ name: String) throws -> String {
        let target = path("\(name)-chain.pem")
        if !FileManager.default.fileExists(atPath: target) {
            let text = try String(contentsOfFile: pki.cert(name), encoding: .utf8) + String(contentsOfFile: pki.serverCA, encoding: .utf8)
            try text.write(toFile: target, atomically: true, encoding: .utf8)
        }
        return target
    }

    /// A fresh DER response about `name` (valid one day), signed by the server CA; its path.
    func response(for name: String, database: Database = .good) throws -> String {
        let tag = UUID().uuidString
        try openssl(["ocsp", "-issuer", pki.serverCA, "-cert", pki.cert(name), "-reqout", path("\(tag).req"), "-no_nonce"])
        try openssl(["ocsp", "-index", path("\(database.rawValue).txt"), "-rsigner", pki.serverCA, "-rkey", pki.path("server-ca.key"),
                     "-CA", pki.serverCA, "-rmd", "sha256", "-reqin", path("\(tag).req"), "-respout", path("\(tag).der"), "-ndays", "1"])
        return path("\(tag).der")
    }

    /// A response about `name` whose every time lies one year back (so nextUpdate passed a year less a day
    /// ago), re-signed by the server CA: `openssl ocsp` cannot date a response in the past, so a fresh one is
    /// rewritten (its GeneralizedTimes in tbsResponseData) and its signature made anew with `openssl dgst`.
    func expiredResponse(for name: String) throws -> String {
        let fresh = Array(try Data(contentsOf: URL(fileURLWithPath: try response(for: name))))
        // OCSPResponse { status, [0] { SEQUENCE { type, OCTET STRING { BasicOCSPResponse } } } }
        let outer = try DER.children(of: fresh)
        let responseBytes = try DER.children(of: try DER.children(of: outer[1])[0])
        let basic = try DER.content(of: responseBytes[1])
        // BasicOCSPResponse { tbsResponseData, signatureAlgorithm, signature, [0] certs }
        let parts = try DER.children(of: basic)
        var tbs = parts[0]
        var index = 0
        while index + 17 <= tbs.count {
            if tbs[index] == 0x18 && tbs[index + 1] == 0x0F, let year = Int(String(decoding: tbs[index + 2..<index + 6], as: UTF8.self)) {
                tbs.replaceSubrange(index + 2..<index + 6, with: Array(String(year - 1).utf8))
                index += 17
            } else {
                index += 1
            }
        }
        let tbsPath = path("\(UUID().uuidString).tbs")
        try Data(tbs).write(to: URL(fileURLWithPath: tbsPath))
        let signaturePath = tbsPath + ".sig"
        try openssl(["dgst", "-sha256", "-sign", pki.path("server-ca.key"), "-out", signaturePath, tbsPath])
        let signature = Array(try Data(contentsOf: URL(fileURLWithPath: signaturePath)))
        let newBasic = DER.encode(0x30, tbs + parts[1] + DER.encode(0x03, [0] + signature) + Array(parts[3...].joined()))
        let newResponseBytes = DER.encode(0x30, responseBytes[0] + DER.encode(0x04, newBasic))
        let rewritten = DER.encode(0x30, outer[0] + DER.encode(0xA0, newResponseBytes))
        let target = path("\(UUID().uuidString)-expired.der")
        try Data(rewritten).write(to: URL(fileURLWithPath: target))
        return target
    }

    /// The serial numbers of the certificate IDs in the OCSP response `s_client -status` printed.
    static func stapledSerials(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line in
            let text = line.trimmingCharacters(in: .whitespaces)
            return text.hasPrefix("Serial Number: ") ? String(text.dropFirst("Serial Number: ".count)) : nil
        }
    }

    @discardableResult
    private func openssl(_ arguments: [String]) throws -> String {
        let result = try Run.command("/usr/bin/openssl", arguments, timeout: 60)
        guard result.status == 0 else {
            throw IntegrationError.setup("openssl \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
        return result.stdout
    }
}

/// Just enough DER (single-byte tags, definite lengths) to take an OCSP response apart and put it back.
enum DER {
    /// (header length, content length) of the element starting at `bytes[offset]`.
    static func header(_ bytes: [UInt8], at offset: Int) throws -> (header: Int, length: Int) {
        guard offset + 1 < bytes.count else { throw IntegrationError.setup("DER: truncated at \(offset)") }
        let first = Int(bytes[offset + 1])
        if first < 0x80 { return (2, first) }
        let count = first & 0x7F
        guard (1...4).contains(count), offset + 2 + count <= bytes.count else { throw IntegrationError.setup("DER: bad length at \(offset)") }
        let length = bytes[offset + 2..<offset + 2 + count].reduce(0) { $0 << 8 | Int($1) }
        return (2 + count, length)
    }

    /// The content of the one element `element`.
    static func content(of element: [UInt8]) throws -> [UInt8] {
        let (header, length) = try header(element, at: 0)
        guard header + length <= element.count else { throw IntegrationError.setup("DER: element longer than its bytes") }
        return Array(element[header..<header + length])
    }

    /// The elements (whole, header included) inside the constructed element `element`.
    static func children(of element: [UInt8]) throws -> [[UInt8]] {
        let inner = try content(of: element)
        var result: [[UInt8]] = []
        var offset = 0
        while offset < inner.count {
            let (header, length) = try header(inner, at: offset)
            guard offset + header + length <= inner.count else { throw IntegrationError.setup("DER: child overruns its parent") }
            result.append(Array(inner[offset..<offset + header + length]))
            offset += header + length
        }
        return result
    }

    static func encode(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        var length: [UInt8] = []
        if content.count < 0x80 {
            length = [UInt8(content.count)]
        } else {
            var value = content.count
            var digits: [UInt8] = []
            while value > 0 { digits.insert(UInt8(value & 0xFF), at: 0); value >>= 8 }
            length = [0x80 | UInt8(digits.count)] + digits
        }
        return [tag] + length + content
    }
}
