import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// Running under systemd, on the real binary: sd_notify states and watchdog pings, socket activation
    /// (including connections queued while no proxy runs), privilege drop and the refusal to stay root.
    @Suite struct Service {
        let pki = IntegrationPKI.shared

        private func config(port: UInt16, backend: UInt16, listenerName: String = "tls", workers: Int = 2,
                            global: [String: String] = [:]) -> String {
            var config = ProxyConfigBuilder()
            config.global["workers"] = String(workers)
            for (key, value) in global { config.global[key] = value }
            config.hosts = [.init(name: "a", names: ["a.example.com"], certificates: [(pki.cert("a"), pki.key("a"))],
                                  backends: ["127.0.0.1:\(backend)"])]
            config.listeners = [.init(name: listenerName, port: port, hosts: ["a"], defaultHost: "a")]
            return config.toml
        }

        private func writeConfig(_ text: String) throws -> String {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-itest-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let path = directory.appendingPathComponent("portcullis.toml").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        private func echo(_ port: UInt16, _ text: String, timeout: Double = 20) throws -> PythonTLSClient.Outcome {
            try PythonTLSClient.run(.init(port: port, sni: "a.example.com", caFile: pki.serverCA, sendText: text,
                                          halfClose: true, timeout: timeout))[0]
        }

        // MARK: Journal

        @Test func onTheJournalStreamEveryLineCarriesItsSyslogPriority() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port), waitForPorts: [port], logIsJournal: true)
            defer { proxy.stop() }
            #expect(try echo(port, "journal").received_text == "journal")
            try proxy.rewriteConfig("[global]\nbroken = \n")
            proxy.signal(SIGHUP)
            #expect(proxy.waitForLog("reload failed"), "\(proxy.log)")
            let lines = proxy.log.split(separator: "\n")
            // journald reads the prefix as the priority and stamps the time itself (no timestamp of ours).
            #expect(lines.contains { $0.hasPrefix("<6>info portcullis: starting portcullis") }, "\(proxy.log)")
            #expect(lines.contains { $0.hasPrefix("<3>error portcullis: reload failed") }, "\(proxy.log)")
            // The access log line (stdout, the same stream here) is info.
            #expect(lines.contains { $0.hasPrefix("<6>client=127.0.0.1:") && $0.contains("close=") }, "\(proxy.log)")
            #expect(lines.allSatisfy { $0.first == "<" }, "every line should carry a priority:\n\(proxy.log)")
        }

        @Test func offTheJournalLinesHaveNoPriorityPrefix() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port), waitForPorts: [port],
                                         environment: ["JOURNAL_STREAM": "1:1"])
            defer { proxy.stop() }
            #expect(try echo(port, "plain").received_text == "plain")
            #expect(proxy.waitForLog("close="), "\(proxy.log)")
            #expect(!proxy.log.contains("<6>"), "\(proxy.log)")
        }

        @Test func aReloadReopensLogFilesForRotation() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-logs-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let access = directory + "/access.log", errors = directory + "/error.log"
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port, global: [
                "access_log": tomlString(access), "error_log": tomlString(errors),
            ]), waitForPorts: [port])
            defer { proxy.stop() }
            func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
            func waitFor(_ path: String, _ text: String) -> Bool {
                for _ in 0..<100 where !contents(path).contains(text) { usleep(50_000) }
                return contents(path).contains(text)
            }
            #expect(try echo(port, "before").received_text == "before")
            #expect(waitFor(access, "close="), "\(contents(access))")

            // logrotate: move the files away, then reload.
            try FileManager.default.moveItem(atPath: access, toPath: access + ".1")
            try FileManager.default.moveItem(atPath: errors, toPath: errors + ".1")
            proxy.signal(SIGHUP)
            #expect(waitFor(errors, "configuration reloaded"), "the operational log should be reopened: \(contents(errors + ".1"))")
            #expect(try echo(port, "after").received_text == "after")
            #expect(waitFor(access, "close="), "the access log should be reopened")
            #expect(contents(access).split(separator: "\n").count == 1, "\(contents(access))")
            #expect(contents(access + ".1").split(separator: "\n").count == 1, "\(contents(access + ".1"))")
            #expect(!contents(errors + ".1").contains("configuration reloaded"))
        }

        // MARK: sd_notify

        @Test func notifyReadyReloadingReadyAndStoppingInOrderOnAnAbstractSocket() throws {
            let notify = try NotifySocket(abstract: true)
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port), waitForPorts: [port],
                                         environment: ["NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "",
                                                       "WATCHDOG_PID": ""])
            defer { proxy.stop() }
            var pings = 0

            let ready = try #require(notify.nextState(timeout: 10, pings: &pings), "no READY=1; log:\n\(proxy.log)")
            #expect(notifyFields(ready)["READY"] == "1", "\(ready)")
            #expect(notifyFields(ready)["STATUS"]?.contains("127.0.0.1:\(port)") == true, "\(ready)")
            #expect(try echo(port, "after ready").received_text == "after ready")

            // A good reload: RELOADING=1 stamped on CLOCK_MONOTONIC, then READY=1.
            let before = monotonicMicroseconds()
            proxy.signal(SIGHUP)
            let reloading = try #require(notify.nextState(timeout: 10, pings: &pings), "no RELOADING=1; log:\n\(proxy.log)")
            let after = monotonicMicroseconds()
            #expect(notifyFields(reloading)["RELOADING"] == "1", "\(reloading)")
            let stamp = try #require(notifyFields(reloading)["MONOTONIC_USEC"].flatMap { UInt64($0) }, "\(reloading)")
            #expect(stamp >= before && stamp <= after, "MONOTONIC_USEC \(stamp) not within [\(before), \(after)]")
            let reloaded = try #require(notify.nextState(timeout: 10, pings: &pings))
            #expect(notifyFields(reloaded)["READY"] == "1", "\(reloaded)")
            #expect(notifyFields(reloaded)["STATUS"] == "configuration reloaded", "\(reloaded)")

            // A failed reload still ends the reload with READY=1, and says it failed.
            try proxy.rewriteConfig("[global]\nworkers = \"many\"\n")
            proxy.signal(SIGHUP)
            let failing = try #require(notify.nextState(timeout: 10, pings: &pings))
            #expect(notifyFields(failing)["RELOADING"] == "1", "\(failing)")
            let failed = try #require(notify.nextState(timeout: 10, pings: &pings))
            #expect(notifyFields(failed)["READY"] == "1", "\(failed)")
            #expect(notifyFields(failed)["STATUS"]?.hasPrefix("reload failed, serving the previous configuration:") == true, "\(failed)")
            #expect(notifyFields(failed)["STATUS"]?.contains("workers") == true, "\(failed)")
            #expect(try echo(port, "old config").received_text == "old config")

            proxy.signal(SIGTERM)
            let stopping = try #require(notify.nextState(timeout: 10, pings: &pings))
            #expect(notifyFields(stopping)["STOPPING"] == "1", "\(stopping)")
            #expect(proxy.waitForExit(timeout: 15) == 0)
            #expect(pings == 0, "no WATCHDOG_USEC, no pings")
            #expect(notify.drain(for: 0.2).isEmpty)
        }

        @Test func watchdogPingsArriveAtHalfTheIntervalOnAPathSocket() throws {
            let notify = try NotifySocket(abstract: false)
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            // 400 ms: pings every 200 ms, each worker stamping every 100 ms.
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port), waitForPorts: [port],
                                         environment: ["NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "400000"])
            defer { proxy.stop() }
            var pings = 0
            let ready = try #require(notify.nextState(timeout: 10, pings: &pings), "log:\n\(proxy.log)")
            #expect(notifyFields(ready)["READY"] == "1")
            let window = notify.drain(for: 2.0)
            let watchdog = window.filter { $0 == "WATCHDOG=1" }.count
            #expect(window.allSatisfy { $0 == "WATCHDOG=1" }, "\(window)")
            // 2 s / 200 ms = 10 pings; allow for scheduling on a busy machine, but not for silence or a flood.
            #expect(watchdog >= 6 && watchdog <= 12, "\(watchdog) pings in 2 s")
            // Traffic does not disturb them.
            #expect(try echo(port, "with watchdog").received_text == "with watchdog")
            #expect(notify.drain(for: 0.6).filter { $0 == "WATCHDOG=1" }.count >= 2)
        }

        /// Stops one thread of a process (not the whole process) with ptrace: PTRACE_SEIZE + PTRACE_INTERRUPT,
        /// then resumes it after the given seconds. Prints "stopped" once the thread is stopped.
        static let stallThread = #"""
        import ctypes, os, sys, time
        libc = ctypes.CDLL(None, use_errno=True)
        libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        tid, seconds = int(sys.argv[1]), float(sys.argv[2])
        if libc.ptrace(0x4206, tid, None, None) != 0: sys.exit("PTRACE_SEIZE: errno %d" % ctypes.get_errno())
        if libc.ptrace(0x4207, tid, None, None) != 0: sys.exit("PTRACE_INTERRUPT: errno %d" % ctypes.get_errno())
        os.waitpid(tid, 0x40000000)
        print("stopped", flush=True)
        time.sleep(seconds)
        libc.ptrace(17, tid, None, None)
        print("resumed", flush=True)
        """#

        @Test func aStuckWorkerLoopStopsTheWatchdogPingsUntilItRunsAgain() throws {
            let notify = try NotifySocket(abstract: true)
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port), waitForPorts: [port],
                                         environment: ["NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "400000"])
            defer { proxy.stop() }
            var pings = 0
            #expect(notify.nextState(timeout: 10, pings: &pings).map { notifyFields($0)["READY"] } == "1")
            #expect(notify.drain(for: 0.6).filter { $0 == "WATCHDOG=1" }.count >= 2)

            // The first worker thread (threads other than the main one are the workers, in creation order).
            let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(proxy.pid)/task").compactMap { Int32($0) }
            let workers = threads.filter { $0 != proxy.pid }.sorted()
            #expect(workers.count == 2, "main thread + 2 workers expected, got \(threads)")
            let worker = try #require(workers.first)
            let helper = Process()
            helper.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            helper.arguments = ["-c", Self.stallThread, String(worker), "1.5"]
            let output = Pipe()
            helper.standardOutput = output
            try helper.run()
            defer { helper.waitUntilExit() }
            let first = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
            try #require(first.hasPrefix("stopped"), "could not stop the worker thread: \(first)")

            // While one loop is stuck (the others and the control thread run), the pings stop: at most one
            // slips through before its heartbeat is older than half the interval.
            let stuck = notify.drain(for: 1.0)
            #expect(stuck.filter { $0 == "WATCHDOG=1" }.count <= 1, "\(stuck)")
            #expect(proxy.waitForLog("event loop has not run for"), "\(proxy.log)")
            #expect(proxy.logLines(containing: "withholding the systemd watchdog ping").count == 1, "logged once")
            helper.waitUntilExit()
            #expect(helper.terminationStatus == 0)
            // Running again: pings resume, and so does traffic.
            #expect(notify.drain(for: 0.8).filter { $0 == "WATCHDOG=1" }.count >= 2)
            #expect(proxy.waitForLog("watchdog pings resumed"), "\(proxy.log)")
            #expect(try echo(port, "after the stall").received_text == "after the stall")
        }

        @Test func watchdogForAnotherPidSendsNoPings() throws {
            let notify = try NotifySocket(abstract: true)
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let proxy = try ProxyProcess(config: config(port: port, backend: backend.port), waitForPorts: [port],
                                         environment: ["NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "200000",
                                                       "WATCHDOG_PID": "1"])
            defer { proxy.stop() }
            var pings = 0
            #expect(notify.nextState(timeout: 10, pings: &pings).map { notifyFields($0)["READY"] } == "1")
            #expect(!notify.drain(for: 0.8).contains("WATCHDOG=1"))
        }

        // MARK: Socket activation

        @Test func socketActivationByNameServesQueuedConnectionsAndSurvivesARestart() throws {
            let socket = try ActivationSocket()
            let backend = try TestBackend(mode: .echo)
            let notify = try NotifySocket(abstract: true)
            // The listener's own address is a different port: the socket named "https" replaces it.
            let unused = Ports.free()
            let path = try writeConfig(config(port: unused, backend: backend.port, listenerName: "https"))

            // A client connects before any proxy runs: the kernel queues it on systemd's (here: our) socket.
            let early = LockedBox<PythonTLSClient.Outcome?>(nil)
            let group = DispatchGroup()
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                early.mutate { $0 = try? echo(socket.port, "queued before start", timeout: 30) }
            }
            for _ in 0..<200 where socket.queuedConnections < 1 { usleep(20_000) }
            #expect(socket.queuedConnections == 1, "the early client should wait in the accept queue")

            let first = try ActivatedProxy(configPath: path, inherit: [socket.fd], names: ["https"],
                                           environment: ["NOTIFY_SOCKET": notify.address], arguments: ["--allow-root"])
            defer { first.stop() }
            var pings = 0
            let ready = notify.nextState(timeout: 15, pings: &pings)
            #expect(ready.map { notifyFields($0)["READY"] } == "1", "log:\n\(first.log)")
            #expect(group.wait(timeout: .now() + 30) == .success)
            #expect(early.value?.received_text == "queued before start", "\(String(describing: early.value)); log:\n\(first.log)")
            #expect(first.log.contains("listener https: serving 1 socket(s) from systemd: fd 3 (name \"https\", 127.0.0.1:\(socket.port))"), "\(first.log)")
            #expect(!Ports.isListening(unused), "the configured address is replaced, not bound as well")
            // Both workers watch the one socket (each through its own descriptor), wake-one.
            let exclusive: UInt32 = 1 << 28
            let watchers = ProcStatus.epollRegistrations(first.pid, inode: socket.inode)
            #expect(watchers.count == 2 && watchers.allSatisfy { $0 & exclusive != 0 }, "\(watchers.map { String($0, radix: 16) })")
            for index in 0..<6 { #expect(try echo(socket.port, "round \(index)").received_text == "round \(index)") }

            // "Restart": the first instance drains; the socket stays open (in systemd, here in the test).
            // A connection still open keeps the draining instance alive for a while: it must stop watching
            // the socket at once (no stale exclusive registration swallowing wake-ups), and leave clients
            // arriving meanwhile in the queue for the next instance.
            let silent = try Self.connect(socket.port)
            defer { close(silent) }
            for _ in 0..<200 where socket.queuedConnections > 0 { usleep(20_000) }
            #expect(socket.queuedConnections == 0, "the silent connection should have been accepted")
            first.signal(SIGTERM)
            #expect(first.waitForLog("draining 1 open connection(s)"), "\(first.log)")
            // The control thread logs before the workers have taken the drain command: give them a moment.
            var registrations = ProcStatus.epollRegistrations(first.pid, inode: socket.inode)
            for _ in 0..<100 where !registrations.isEmpty {
                usleep(20_000)
                registrations = ProcStatus.epollRegistrations(first.pid, inode: socket.inode)
            }
            #expect(registrations.isEmpty, "\(registrations.map { String($0, radix: 16) })")
            let gap = LockedBox<PythonTLSClient.Outcome?>(nil)
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                gap.mutate { $0 = try? echo(socket.port, "queued during restart", timeout: 30) }
            }
            for _ in 0..<200 where socket.queuedConnections < 1 { usleep(20_000) }
            usleep(200_000)
            #expect(socket.queuedConnections == 1, "a draining instance accepts nothing new")
            #expect(first.waitForExit(timeout: 0) == nil, "still draining the silent connection")
            shutdown(silent, Int32(SHUT_RDWR))
            #expect(first.waitForExit(timeout: 15) == 0, "\(first.log)")
            let second = try ActivatedProxy(configPath: path, inherit: [socket.fd], names: ["https"], arguments: ["--allow-root"])
            defer { second.stop() }
            #expect(group.wait(timeout: .now() + 30) == .success)
            #expect(gap.value?.received_text == "queued during restart", "\(String(describing: gap.value)); log:\n\(second.log)")
            second.signal(SIGTERM)
            #expect(second.waitForExit(timeout: 15) == 0)
        }

        @Test func socketActivationByAddressWithoutNames() throws {
            let socket = try ActivationSocket()
            let backend = try TestBackend(mode: .echo)
            // The listener is named "tls", the socket has no name: it matches by address.
            let path = try writeConfig(config(port: socket.port, backend: backend.port, workers: 1))
            let proxy = try ActivatedProxy(configPath: path, inherit: [socket.fd], names: nil, arguments: ["--allow-root"])
            defer { proxy.stop() }
            #expect(proxy.waitForLog("serving with 1 worker(s)"), "\(proxy.log)")
            #expect(proxy.log.contains("listener tls: serving 1 socket(s) from systemd: fd 3 (127.0.0.1:\(socket.port))"), "\(proxy.log)")
            #expect(try echo(socket.port, "by address").received_text == "by address")
        }

        @Test func socketActivationRefusesSocketsItCannotPlace() throws {
            let socket = try ActivationSocket()
            let backend = try TestBackend(mode: .echo)
            let configured = Ports.free()
            let path = try writeConfig(config(port: configured, backend: backend.port))

            // Named for no listener, bound to no configured address: an error naming it, nothing served.
            let stray = try ActivatedProxy(configPath: path, inherit: [socket.fd], names: ["admin"], arguments: ["--allow-root"])
            #expect(stray.waitForExit(timeout: 15) == 1)
            #expect(stray.log.contains("socket activation: fd 3 (name \"admin\", 127.0.0.1:\(socket.port)) match(es) no [[listener]] by name (FileDescriptorName=) or by address; listeners: tls (127.0.0.1:\(configured))"), "\(stray.log)")
            #expect(!Ports.isListening(configured))

            // A descriptor that is not a listening socket.
            let file = open("/dev/null", O_RDONLY | O_CLOEXEC)
            defer { close(file) }
            let notSocket = try ActivatedProxy(configPath: path, inherit: [file], names: ["tls"], arguments: ["--allow-root"])
            #expect(notSocket.waitForExit(timeout: 15) == 1)
            #expect(notSocket.log.contains("socket activation: fd 3 (name \"tls\") is not a listening stream socket"), "\(notSocket.log)")

            // LISTEN_FDNAMES must name every descriptor.
            let miscounted = try ActivatedProxy(configPath: path, inherit: [socket.fd], names: ["tls", "extra"], arguments: ["--allow-root"])
            #expect(miscounted.waitForExit(timeout: 15) == 1)
            #expect(miscounted.log.contains("socket activation: LISTEN_FDNAMES has 2 name(s) for LISTEN_FDS=1 descriptor(s)"), "\(miscounted.log)")
        }

        // MARK: Privileges

        @Test func dropsToTheConfiguredUserAfterBindingAndReloadsAsIt() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let text = config(port: port, backend: backend.port, global: ["user": tomlString("nobody")])
            guard getuid() == 0 else {
                // Not root: switching users is impossible, and said so before anything is bound.
                #expect(throws: IntegrationError.self) { _ = try ProxyProcess(config: text, waitForPorts: [port]) }
                return
            }
            let proxy = try ProxyProcess(config: text, waitForPorts: [port])
            defer { proxy.stop() }
            #expect(proxy.waitForLog("running as user nobody (uid 65534"), "\(proxy.log)")
            let status = ProcStatus.process(proxy.pid)
            #expect(status["Uid"]?.split(separator: "\t") == ["65534", "65534", "65534", "65534"], "\(status)")
            let gid = status["Gid"]?.split(separator: "\t").first.map(String.init)
            #expect(gid != nil && gid != "0", "\(status)")
            #expect(status["Groups"]?.split(separator: " ").contains("0") == false, "\(status)")
            for thread in ProcStatus.threads(proxy.pid) {
                #expect(thread["Uid"]?.hasPrefix("65534") == true, "\(thread)")
                #expect(thread["CapEff"] == "0000000000000000" && thread["CapPrm"] == "0000000000000000", "\(thread)")
            }
            // Keys were read as root before the switch, so the proxy serves...
            #expect(try echo(port, "as nobody").received_text == "as nobody")
            // ...but a reload reads them as nobody: the test keys are 0600 root, so it fails and says why.
            proxy.signal(SIGHUP)
            #expect(proxy.waitForLog("reload failed"), "\(proxy.log)")
            let line = proxy.logLines(containing: "reload failed").first.map(String.init) ?? ""
            #expect(line.contains("Permission denied"), "\(line)")
            #expect(line.contains("reloads run as user nobody (uid 65534)"), "\(line)")
            #expect(try echo(port, "still serving").received_text == "still serving")
        }

        @Test func refusesToRunAsRootWithoutAUser() throws {
            let port = Ports.free()
            let backend = try TestBackend(mode: .echo)
            let text = config(port: port, backend: backend.port)
            guard getuid() == 0 else {
                // Not root: nothing to refuse.
                let proxy = try ProxyProcess(config: text, waitForPorts: [port], allowRoot: false)
                proxy.stop()
                return
            }
            let path = try writeConfig(text)
            let refused = try Run.command(BinaryLocator.portcullis.path, ["run", "--config", path], timeout: 30)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("refusing to run as root without a user to switch to: set user = \"...\""), "\(refused.stderr)")
            #expect(refused.stderr.contains("or pass --allow-root"), "\(refused.stderr)")
            #expect(!Ports.isListening(port), "nothing may be bound before the refusal")
            // With --allow-root it runs, and says so.
            let allowed = try ProxyProcess(config: text, waitForPorts: [port], allowRoot: true)
            defer { allowed.stop() }
            #expect(allowed.waitForLog("running as root because of --allow-root"), "\(allowed.log)")
            #expect(try echo(port, "root").received_text == "root")
        }

        /// What the systemd unit does: start unprivileged with CAP_NET_BIND_SERVICE as an ambient capability,
        /// bind a port below 1024, then hold no capability at all.
        @Test func unprivilegedStartWithBindCapabilityDropsItAfterBinding() throws {
            let backend = try TestBackend(mode: .echo)
            guard getuid() == 0 else {
                // Without root, setpriv cannot grant the capability; a configured other user is refused.
                let port = Ports.free()
                let text = config(port: port, backend: backend.port, global: ["user": tomlString("root")])
                #expect(throws: IntegrationError.self) { _ = try ProxyProcess(config: text, waitForPorts: [port]) }
                return
            }
            let port = try #require(Ports.freePrivileged(), "no free port below 1024")
            let path = try writeConfig(config(port: port, backend: backend.port, workers: 2))
            try FileManager.default.setAttributes([.posixPermissions: 0o755],
                                                  ofItemAtPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
            // The test keys are root-only: give the unprivileged process readable copies.
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            let certificate = directory.appendingPathComponent("a.crt").path
            let key = directory.appendingPathComponent("a.key").path
            try FileManager.default.copyItem(atPath: pki.cert("a"), toPath: certificate)
            try FileManager.default.copyItem(atPath: pki.key("a"), toPath: key)
            chown(key, 65534, 65534)
            try String(contentsOfFile: path, encoding: .utf8)
                .replacingOccurrences(of: pki.cert("a"), with: certificate)
                .replacingOccurrences(of: pki.key("a"), with: key)
                .write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o644)
            let log = path + ".log"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+net_bind_service",
                                 "--ambient-caps=+net_bind_service", BinaryLocator.portcullis.path, "run", "--config", path]
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            defer {
                if process.isRunning { kill(process.processIdentifier, SIGTERM) }
                process.waitUntilExit()
            }
            let logText = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
            #expect(Ports.waitUntilListening(port, timeout: 20), "\(logText())")
            #expect(try echo(port, "low port").received_text == "low port", "\(logText())")
            #expect(logText().contains("capabilities dropped after binding"), "\(logText())")
            for thread in ProcStatus.threads(process.processIdentifier) {
                #expect(thread["Uid"]?.hasPrefix("65534") == true, "\(thread)")
                #expect(thread["CapEff"] == "0000000000000000", "\(thread)")
                #expect(thread["CapPrm"] == "0000000000000000", "\(thread)")
                #expect(thread["CapAmb"] == "0000000000000000", "\(thread)")
            }
        }

        /// A plain TCP connection to 127.0.0.1:`port` that never speaks.
        private static func connect(_ port: UInt16) throws -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else {
                close(fd)
                throw IntegrationError.setup("connect: errno \(errno)")
            }
            return fd
        }
    }
}
