import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// SIGHUP applies the whole file on the real process: listeners added, removed and kept, timeouts and
    /// `max_connections`, a bind conflict that fails the whole reload, and keys that need a restart.
    @Suite struct ReloadTests {
        let pki = IntegrationPKI.shared

        private struct ListenerSpec {
            var name: String
            var ports: [UInt16]
            var hosts: [String] = ["a"]
            var defaultHost: String? = "a"
            var extra: [String: String] = [:]
        }

        /// Hosts `a` (a.example.com) and `d` (default.example.com) in front of `backend`; `listeners` as given.
        private func config(_ listeners: [ListenerSpec], backend: UInt16, global: [String: String] = [:]) -> String {
            var config = ProxyConfigBuilder()
            for (key, value) in global { config.global[key] = value }
            config.hosts = [
                .init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))], backends: ["127.0.0.1:\(backend)"]),
                .init(name: "d", names: ["default.example.com"], certificates: [(pki.cert("default"), pki.key("default"))],
                      backends: ["127.0.0.1:\(backend)"]),
            ]
            config.listeners = listeners.map { .init(name: $0.name, port: $0.ports[0], hosts: $0.hosts, defaultHost: $0.defaultHost, extra: $0.extra) }
            var toml = config.toml
            // The builder writes one address per listener; add the others.
            for listener in listeners where listener.ports.count > 1 {
                let one = "listen = [\"127.0.0.1:\(listener.ports[0])\"]"
                let all = "listen = [" + listener.ports.map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", ") + "]"
                toml = toml.replacingOccurrences(of: one, with: all)
            }
            return toml
        }

        /// Sends SIGHUP and waits for the `count`-th outcome line (success or failure) in the log.
        @discardableResult
        private func reload(_ proxy: ProxyProcess, count: Int) -> Bool {
            proxy.signal(SIGHUP)
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                if proxy.logLines(containing: "configuration reloaded").count + proxy.logLines(containing: "reload failed").count >= count {
                    return true
                }
                usleep(50_000)
            }
            return false
        }

        /// True once a TCP connect to 127.0.0.1:`port` is refused (bounded: `seconds`).
        private func connectionRefused(_ port: UInt16, seconds: Double = 10) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            repeat {
                if Self.tcpConnect(port) == ECONNREFUSED { return true }
                usleep(50_000)
            } while Date() < deadline
            return false
        }

        /// 0 when a TCP connection to 127.0.0.1:`port` is accepted (and closed at once), else the errno.
        private static func tcpConnect(_ port: UInt16) -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return errno }
            defer { close(fd) }
            return connectLoopback(fd, port: port) == 0 ? 0 : errno
        }

        private func served(_ port: UInt16, sni: String = "a.example.com") throws -> Bool {
            let outcome = try PythonTLSClient.run(.init(port: port, sni: sni, caFile: pki.serverCA, sendText: "ping", halfClose: true, timeout: 10))[0]
            return outcome.ok && outcome.received_text == "ping"
        }

        // MARK: Listeners

        @Test func aListenerAddedOnReloadIsServed() throws {
            let first = Ports.free()
            let second = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config([ListenerSpec(name: "one", ports: [first])], backend: backend.port), waitForPorts: [first])
            defer { proxy.stop() }
            #expect(!Ports.isListening(second))

            try proxy.rewriteConfig(config([ListenerSpec(name: "one", ports: [first]), ListenerSpec(name: "two", ports: [second])],
                                           backend: backend.port))
            #expect(reload(proxy, count: 1), "\(proxy.log)")
            #expect(proxy.logLines(containing: "reload: listeners added two=127.0.0.1:\(second)").count == 1, "\(proxy.log)")
            #expect(proxy.logLines(containing: "serving with").last?.contains("two=127.0.0.1:\(second)") == true, "\(proxy.log)")
            // Reachable with openssl s_client, with the host's certificate.
            let outcome = try SClient.connect(port: second, servername: "a.example.com", caFile: pki.serverCA)
            #expect(outcome.handshakeSucceeded, "\(outcome.output)\n\(proxy.log)")
            #expect(outcome.peerSubject?.contains("a.example.com") == true, "\(outcome.output)")
            // And through to the backend, on both listeners.
            #expect(try served(second))
            #expect(try served(first))
        }

        @Test func aRemovedListenerRefusesNewConnectionsWhileItsOpenConnectionKeepsWorking() throws {
            let kept = Ports.free()
            let removed = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let both = [ListenerSpec(name: "kept", ports: [kept]), ListenerSpec(name: "removed", ports: [removed])]
            let proxy = try ProxyProcess(config: config(both, backend: backend.port), waitForPorts: [kept, removed])
            defer { proxy.stop() }

            let held = try HeldConnection(port: removed, sni: "a.example.com", caFile: pki.serverCA)
            defer { held.finish() }
            #expect(held.waitUntilReady(seconds: 15), "the connection on the listener to remove did not get its first echo: \(held.result())")

            try proxy.rewriteConfig(config([ListenerSpec(name: "kept", ports: [kept])], backend: backend.port))
            #expect(reload(proxy, count: 1), "\(proxy.log)")
            #expect(proxy.waitForLog("reload: listeners removed removed=127.0.0.1:\(removed)", timeout: 5), "\(proxy.log)")
            #expect(connectionRefused(removed), "new connections to a removed listener must be refused")
            #expect(!Ports.isListening(removed))
            // The connection accepted before the reload still carries data both ways.
            held.proceed()
            let result = held.result()
            #expect(result.contains("\"ok\": true") && result.contains("\"after\": \"after the reload\""), "\(result)\n\(proxy.log)")
            #expect(try served(kept))
        }

        @Test func anUnchangedListenerNeverRefusesAClientDuringReloads() throws {
            let steady = Ports.free()
            let churn = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let small = config([ListenerSpec(name: "steady", ports: [steady])], backend: backend.port)
            let large = config([ListenerSpec(name: "steady", ports: [steady]), ListenerSpec(name: "churn", ports: [churn])],
                               backend: backend.port, global: ["handshake_timeout": tomlString("7s")])
            let proxy = try ProxyProcess(config: small, waitForPorts: [steady])
            defer { proxy.stop() }

            let loop = try ClientLoop(port: steady, sni: "a.example.com", caFile: pki.serverCA)
            defer { loop.stop() }
            #expect(loop.waitForSuccesses(5, seconds: 20), "the client loop did not get going: \(loop.result())")
            // Four reloads, each binding or closing a listener and changing a timeout, while the loop runs.
            for round in 1...4 {
                try proxy.rewriteConfig(round % 2 == 1 ? large : small)
                #expect(reload(proxy, count: round), "\(proxy.log)")
                usleep(200_000)
            }
            let summary = loop.result()
            let counts = try #require(ClientLoop.counts(summary), "\(summary)")
            #expect(counts.failures == 0, "a client of the unchanged listener failed during a reload: \(summary)\n\(proxy.log)")
            #expect(counts.ok >= 10, "\(summary)")
            #expect(proxy.logLines(containing: "configuration reloaded").count == 4, "\(proxy.log)")
        }

        @Test func listenerTLSSettingsComeFromTheNewFile() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let lenient = ListenerSpec(name: "tls", ports: [port], hosts: ["a", "d"], defaultHost: "a")
            let proxy = try ProxyProcess(config: config([lenient], backend: backend.port), waitForPorts: [port])
            defer { proxy.stop() }
            #expect(try SClient.connect(port: port, caFile: pki.serverCA).peerSubject?.contains("a.example.com") == true)
            #expect(try SClient.connect(port: port, servername: "unknown.example.com", caFile: pki.serverCA).handshakeSucceeded)

            // Same address: a new default host, strict SNI, no session tickets.
            let strict = ListenerSpec(name: "tls", ports: [port], hosts: ["a", "d"], defaultHost: "d",
                                      extra: ["strict_sni": "true", "session_tickets": "false"])
            try proxy.rewriteConfig(config([strict], backend: backend.port))
            #expect(reload(proxy, count: 1), "\(proxy.log)")
            #expect(proxy.logLines(containing: "reload: listeners").isEmpty, "no socket changes for an unchanged address\n\(proxy.log)")
            let noSNI = try SClient.connect(port: port, caFile: pki.serverCA)
            #expect(noSNI.peerSubject?.contains("default.example.com") == true, "\(noSNI.output)")
            let unknown = try SClient.connect(port: port, servername: "unknown.example.com", caFile: pki.serverCA)
            #expect(!unknown.handshakeSucceeded, "strict_sni from the new file must refuse an unknown name: \(unknown.output)")
            let known = try SClient.connect(port: port, servername: "a.example.com", caFile: pki.serverCA, extra: ["-tls1_2"])
            #expect(known.handshakeSucceeded && !known.output.contains("TLS session ticket:"), "\(known.output)")
        }

        @Test func aBindConflictFailsTheWholeReloadAndTheOldListenersKeepServing() throws {
            let port = Ports.free()
            let extra = Ports.free()
            let occupied = Ports.free()
            let blocker = try PortBlocker(port: occupied)
            defer { blocker.release() }
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config([ListenerSpec(name: "tls", ports: [port])], backend: backend.port,
                                                        global: ["handshake_timeout": tomlString("20s")]),
                                         waitForPorts: [port])
            defer { proxy.stop() }

            // The file adds a listener that binds fine, then one on the occupied port, and changes a timeout.
            try proxy.rewriteConfig(config([ListenerSpec(name: "tls", ports: [port]), ListenerSpec(name: "extra", ports: [extra]),
                                            ListenerSpec(name: "blocked", ports: [occupied])],
                                           backend: backend.port, global: ["handshake_timeout": tomlString("1s")]))
            #expect(reload(proxy, count: 1), "\(proxy.log)")
            let failure = proxy.logLines(containing: "reload failed").first.map(String.init) ?? ""
            #expect(failure.contains("listener blocked") && failure.contains("127.0.0.1:\(occupied)") && failure.contains("in use"),
                    "the failed reload must name the listener and address: \(proxy.log)")
            #expect(proxy.isRunning)
            // Nothing changed: the address bound for the failed attempt is closed again, the old timeout holds.
            #expect(!Ports.isListening(extra), "sockets bound for a failed reload must be closed")
            #expect(try served(port))
            let silent = silentConnection(port)
            defer { close(silent) }
            #expect(secondsUntilClosed(silent, limit: 4) == nil, "the failed reload's 1 s handshake timeout must not apply")

            // Once the port is free, the same file reloads.
            blocker.release()
            #expect(reload(proxy, count: 2), "\(proxy.log)")
            #expect(proxy.logLines(containing: "configuration reloaded").count == 1, "\(proxy.log)")
            #expect(try served(occupied))
            #expect(try served(extra))
        }

        /// After the drop to an unprivileged user, a port below 1024 can no longer be bound: the reload fails
        /// as a whole, says a restart binds it, and the old listener keeps serving. (Not root: the process
        /// never had the privilege, and the reload fails the same way.)
        @Test func aPrivilegedPortAddedAfterThePrivilegeDropFailsTheReloadAndSaysRestart() throws {
            let port = Ports.free()
            let low = try #require(Ports.freePrivileged(), "no free port below 1024")
            let backend = try TestBackend(mode: .echo)
            // Reloads run as `nobody`, so it must reach the configuration, certificates and keys.
            let files = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-nobody-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: files) }
            chmod(files, 0o755)
            var paths: [String: String] = [:]
            for name in ["a", "default"] {
                for (source, suffix) in [(pki.cert(name), ".crt"), (pki.key(name), ".key")] {
                    let copy = files + "/" + name + suffix
                    try FileManager.default.copyItem(atPath: source, toPath: copy)
                    chown(copy, 65534, 65534)
                    chmod(copy, 0o600)
                    paths[source] = copy
                }
            }
            let asRoot = getuid() == 0
            let global = asRoot ? ["user": tomlString("nobody")] : [:]
            func readable(_ text: String) -> String {
                paths.reduce(text) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
            }
            let proxy = try ProxyProcess(config: readable(config([ListenerSpec(name: "tls", ports: [port])], backend: backend.port, global: global)),
                                         waitForPorts: [port], allowRoot: false)
            defer { proxy.stop() }
            chmod(proxy.directory.path, 0o755)
            if asRoot { #expect(proxy.waitForLog("running as user nobody"), "\(proxy.log)") }

            try proxy.rewriteConfig(readable(config([ListenerSpec(name: "tls", ports: [port]), ListenerSpec(name: "low", ports: [low])],
                                                    backend: backend.port, global: global)))
            chmod(proxy.configPath, 0o644)
            #expect(reload(proxy, count: 1), "\(proxy.log)")
            let failure = proxy.logLines(containing: "reload failed").first.map(String.init) ?? ""
            #expect(failure.contains("listener low") && failure.contains("127.0.0.1:\(low)") && failure.contains("restart the service to bind it"),
                    "\(proxy.log)")
            #expect(proxy.isRunning)
            #expect(!Ports.isListening(low))
            #expect(try served(port))
        }

        // MARK: Settings

        @Test func aNewHandshakeTimeoutCutsSilentClientsAcceptedAfterTheReload() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let listeners = [ListenerSpec(name: "tls", ports: [port])]
            let proxy = try ProxyProcess(config: config(listeners, backend: backend.port, global: ["handshake_timeout": tomlString("30s")]),
                                         waitForPorts: [port])
            defer { proxy.stop() }
            try proxy.rewriteConfig(config(listeners, backend: backend.port, global: ["handshake_timeout": tomlString("1s")]))
            #expect(reload(proxy, count: 1), "\(proxy.log)")
            usleep(200_000)
            let silent = silentConnection(port)
            defer { close(silent) }
            let closedAfter = secondsUntilClosed(silent, limit: 10)
            #expect(closedAfter != nil && closedAfter! < 5, "a silent client must be cut after the new 1 s timeout, not 30 s: \(String(describing: closedAfter))")
        }

        @Test func aLowerMaxConnectionsRefusesTheNextConnectionOverIt() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let listeners = [ListenerSpec(name: "tls", ports: [port])]
            let global = ["workers": "1", "handshake_timeout": tomlString("30s")]
            let proxy = try ProxyProcess(config: config(listeners, backend: backend.port, global: global.merging(["max_connections": "100"]) { $1 }),
                                         waitForPorts: [port])
            defer { proxy.stop() }
            var held = (0..<3).map { _ in silentConnection(port) }
            defer { held.filter { $0 >= 0 }.forEach { close($0) } }
            usleep(300_000)
            #expect(try served(port), "under the old limit a fourth client is served")

            try proxy.rewriteConfig(config(listeners, backend: backend.port, global: global.merging(["max_connections": "3"]) { $1 }))
            #expect(reload(proxy, count: 1), "\(proxy.log)")
            #expect(proxy.logLines(containing: "serving with").last?.contains("max_connections 3") == true, "\(proxy.log)")
            usleep(200_000)
            let refused = try SClient.connect(port: port, servername: "a.example.com", caFile: pki.serverCA, timeout: 10)
            #expect(!refused.handshakeSucceeded && refused.peerSubject == nil, "the new limit of 3 must refuse a fourth client: \(refused.output)")
            #expect(proxy.waitForLog("max_connections (3) reached", timeout: 5), "\(proxy.log)")
            // A freed slot serves again.
            close(held[0])
            held[0] = -1
            var servedAgain = false
            for _ in 0..<40 where !servedAgain {
                servedAgain = (try? served(port)) == true
                if !servedAgain { usleep(100_000) }
            }
            #expect(servedAgain, "\(proxy.log)")
        }

        @Test func keysThatNeedARestartAreWarnedAboutAndTheRestApplies() throws {
            let port = Ports.free()
            let added = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config([ListenerSpec(name: "tls", ports: [port])], backend: backend.port,
                                                        global: ["workers": "2"]),
                                         waitForPorts: [port])
            defer { proxy.stop() }
            try proxy.rewriteConfig(config([ListenerSpec(name: "tls", ports: [port]), ListenerSpec(name: "added", ports: [added])],
                                           backend: backend.port, global: ["workers": "3", "log_format": tomlString("json")]))
            #expect(reload(proxy, count: 1), "\(proxy.log)")
            let warnings = proxy.logLines(containing: "takes effect at the next restart")
            #expect(warnings.count == 2, "\(proxy.log)")
            #expect(warnings.contains { $0.contains("global.workers changed from 2 to 3") }, "\(proxy.log)")
            #expect(warnings.contains { $0.contains("global.log_format changed from text to json") }, "\(proxy.log)")
            #expect(proxy.logLines(containing: "serving with 2 worker(s)").count == 2, "still two workers\n\(proxy.log)")
            #expect(try served(added), "the rest of the file applies")
        }
    }
}

/// A listening socket without SO_REUSEPORT, so the proxy cannot bind the same port.
private final class PortBlocker: @unchecked Sendable {
    private var fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 8) == 0 else {
            close(fd)
            throw IntegrationError.setup("cannot occupy port \(port): errno \(errno)")
        }
    }

    func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }
}

/// Python `ssl` clients that coordinate with the test through files in a temp directory (`go`, `stop`), so
/// each runs as one bounded process while the test reloads the proxy.
private enum ReloadClientScripts {
    /// One connection: echo "before", write `ready`, wait (at most 30 s) for `go`, echo "after the reload".
    static let held = #"""
    import json, os, socket, ssl, sys, time
    port, sni, ca, directory = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    result = {"ok": False}
    def echo(tls, text):
        tls.sendall(text.encode())
        data = b""
        while len(data) < len(text):
            chunk = tls.recv(len(text) - len(data))
            if not chunk: raise EOFError("closed after %r" % data)
            data += chunk
        return data.decode()
    try:
        ctx = ssl.create_default_context(cafile=ca)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                result["before"] = echo(tls, "before")
                open(os.path.join(directory, "ready"), "w").close()
                deadline = time.time() + 30
                while not os.path.exists(os.path.join(directory, "go")) and time.time() < deadline:
                    time.sleep(0.05)
                result["after"] = echo(tls, "after the reload")
                result["ok"] = True
    except Exception as error:
        result["error"] = repr(error)
    print(json.dumps(result), flush=True)
    """#

    /// TLS connections one after another (handshake, one echoed byte, close) until `stop` exists (at most
    /// 60 s or 5000 connections); prints how many succeeded and the first failures.
    static let loop = #"""
    import json, os, socket, ssl, sys, time
    port, sni, ca, directory = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    ctx = ssl.create_default_context(cafile=ca)
    ok, failures, errors = 0, 0, []
    deadline = time.time() + 60
    while not os.path.exists(os.path.join(directory, "stop")) and time.time() < deadline and ok + failures < 5000:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                    tls.sendall(b"x")
                    if tls.recv(1) != b"x": raise EOFError("no echo")
            ok += 1
        except Exception as error:
            failures += 1
            if len(errors) < 5: errors.append(repr(error))
        if ok % 10 == 0:
            with open(os.path.join(directory, "progress.tmp"), "w") as f: f.write(str(ok))
            os.replace(os.path.join(directory, "progress.tmp"), os.path.join(directory, "progress"))
    print(json.dumps({"ok": ok, "failures": failures, "errors": errors}), flush=True)
    """#
}

/// A Python client process running in the background, steered through files.
private class BackgroundClient: @unchecked Sendable {
    let directory: URL
    private let done = DispatchSemaphore(value: 0)
    private let output = LockedBox<String?>(nil)

    init(script: String, port: UInt16, sni: String, caFile: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-reload-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let arguments = ["-c", script, "\(port)", sni, caFile, directory.path]
        let output = self.output
        let done = self.done
        DispatchQueue.global().async {
            let result = try? Run.command("/usr/bin/python3", arguments, timeout: 90)
            output.mutate { $0 = result.map { $0.stdout + $0.stderr } ?? "python3 did not run" }
            done.signal()
        }
    }

    func touch(_ name: String) {
        _ = FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: nil)
    }

    func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path)
    }

    /// What the script printed, once it exited (at most 95 s).
    func result() -> String {
        if output.value == nil { _ = done.wait(timeout: .now() + 95) ; done.signal() }
        return output.value ?? "the client did not finish"
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

/// One connection held open across a reload.
private final class HeldConnection: BackgroundClient, @unchecked Sendable {
    init(port: UInt16, sni: String, caFile: String) throws {
        try super.init(script: ReloadClientScripts.held, port: port, sni: sni, caFile: caFile)
    }

    func waitUntilReady(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !exists("ready") && Date() < deadline { usleep(20_000) }
        return exists("ready")
    }

    /// Lets the client send its second message.
    func proceed() { touch("go") }

    /// Lets it finish (if the test stopped early) and waits for it.
    func finish() {
        touch("go")
        _ = result()
    }
}

/// Clients connecting one after another until stopped.
private final class ClientLoop: BackgroundClient, @unchecked Sendable {
    init(port: UInt16, sni: String, caFile: String) throws {
        try super.init(script: ReloadClientScripts.loop, port: port, sni: sni, caFile: caFile)
    }

    func waitForSuccesses(_ count: Int, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let progress = (try? String(contentsOfFile: directory.appendingPathComponent("progress").path, encoding: .utf8)).flatMap { Int($0) } ?? 0
            if progress >= count { return true }
            usleep(50_000)
        }
        return false
    }

    func stop() { touch("stop") }

    /// Successes and failures from the script's summary line.
    static func counts(_ output: String) -> (ok: Int, failures: Int)? {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let ok = object["ok"] as? Int, let failures = object["failures"] as? Int else { return nil }
        return (ok, failures)
    }

    override func result() -> String {
        stop()
        return super.result()
    }
}
