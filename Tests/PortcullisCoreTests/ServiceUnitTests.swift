import Foundation
import Glibc
import Logging
import Testing
@testable import PortcullisCore

/// The pieces of the systemd integration that need no process of their own: the notify client, listener
/// matching for socket activation, the watchdog gate, and privilege planning (decided, never applied here).
@Suite struct ServiceUnitTests {
    let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// A datagram receiver on an abstract or path address, as systemd's notify socket.
    final class Receiver {
        let address: String
        let fd: Int32
        private let path: String?

        init(abstract: Bool) throws {
            let name = "portcullis-unit-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            self.fd = fd
            let bytes: [UInt8]
            if abstract {
                address = "@" + name
                path = nil
                bytes = [0] + Array(name.utf8)
            } else {
                let file = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
                address = file
                path = file
                bytes = Array(file.utf8) + [0]
            }
            var storage = sockaddr_un()
            storage.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &storage.sun_path) { raw in
                for (index, byte) in bytes.enumerated() { raw[index] = byte }
            }
            let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
            let bound = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
            }
            try #require(bound == 0, "bind \(address): errno \(errno)")
        }

        deinit {
            close(fd)
            if let path { unlink(path) }
        }

        func next(timeout milliseconds: Int32 = 1000) -> String? {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, milliseconds) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n >= 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
        }
    }

    // MARK: Notifier

    @Test(arguments: [true, false])
    func notifierSendsOneDatagramToAbstractAndPathSockets(abstract: Bool) throws {
        let receiver = try Receiver(abstract: abstract)
        let notifier = try ServiceNotifier(socketPath: receiver.address)
        #expect(notifier.send(["READY=1", ServiceNotifier.statusLine("line one\nline two")]) == nil)
        #expect(receiver.next() == "READY=1\nSTATUS=line one / line two")
        #expect(receiver.next(timeout: 50) == nil)
    }

    @Test func notifierRejectsRelativeAddressesAndReportsUnreachableSockets() throws {
        #expect(throws: SystemCallError.self) { _ = try ServiceNotifier(socketPath: "run/notify") }
        #expect(throws: SystemCallError.self) { _ = try ServiceNotifier(socketPath: "@") }
        let nobody = try ServiceNotifier(socketPath: "/nonexistent/portcullis-\(getpid()).sock")
        let error = try #require(nobody.send(["READY=1"]))
        #expect(error.code == ENOENT, "\(error)")
        let tooLong = try ServiceNotifier(socketPath: "/" + String(repeating: "x", count: 200))
        #expect(tooLong.send(["READY=1"])?.code == EINVAL)
    }

    @Test func watchdogIsEnabledOnlyForUsOrEveryone() {
        #expect(ServiceIntegration.watchdogTimeout(usec: "30000000", pid: nil, ourPID: 42) == 30_000_000_000)
        #expect(ServiceIntegration.watchdogTimeout(usec: "500", pid: "42", ourPID: 42) == 500_000)
        #expect(ServiceIntegration.watchdogTimeout(usec: "500", pid: "43", ourPID: 42) == nil)
        #expect(ServiceIntegration.watchdogTimeout(usec: "0", pid: nil, ourPID: 42) == nil)
        #expect(ServiceIntegration.watchdogTimeout(usec: "soon", pid: nil, ourPID: 42) == nil)
        #expect(ServiceIntegration.watchdogTimeout(usec: nil, pid: "42", ourPID: 42) == nil)
    }

    // MARK: Watchdog gate

    @Test func watchdogPingsOnlyWhileEveryRunningWorkerBeats() throws {
        let receiver = try Receiver(abstract: true)
        let service = ServiceIntegration(notifier: try ServiceNotifier(socketPath: receiver.address),
                                         activation: SocketActivation(sockets: []),
                                         watchdogTimeout: 100_000_000, logger: quiet)
        let first = try #require(service.makeHeartbeatTimer(workerIndex: 0))
        let second = try #require(service.makeHeartbeatTimer(workerIndex: 1))
        #expect(first.period == 25_000_000, "workers beat every quarter interval")
        service.ready(status: "up")
        #expect(receiver.next() == "READY=1\nSTATUS=up")
        let start = MonotonicClock.now()
        first.heartbeat.beat(start)
        second.heartbeat.beat(start)
        // Due at once after READY, every worker fresh: a ping.
        #expect(service.pollTimeout(-1, now: start) == 0)
        service.watchdogTick(now: start)
        #expect(receiver.next() == "WATCHDOG=1")
        // Next one is half an interval later; before that, nothing, and poll waits for it.
        #expect(service.pollTimeout(-1, now: start + 10_000_000) == 40)
        #expect(service.pollTimeout(5, now: start + 10_000_000) == 5)
        service.watchdogTick(now: start + 10_000_000)
        #expect(receiver.next(timeout: 50) == nil)
        // Worker 0 stuck since `start` (60 ms > 50 ms): the ping is withheld.
        second.heartbeat.beat(start + 55_000_000)
        service.watchdogTick(now: start + 60_000_000)
        #expect(receiver.next(timeout: 50) == nil)
        // It beats again: pings resume.
        first.heartbeat.beat(start + 115_000_000)
        second.heartbeat.beat(start + 115_000_000)
        service.watchdogTick(now: start + 120_000_000)
        #expect(receiver.next() == "WATCHDOG=1")
        // A worker that exited (drained) no longer counts.
        first.stop()
        second.heartbeat.beat(start + 175_000_000)
        service.watchdogTick(now: start + 180_000_000)
        #expect(receiver.next() == "WATCHDOG=1")
    }

    @Test func heartbeatTimerStampsFromTheLoopUntilStopped() throws {
        let loop = try EventLoop()
        let heartbeat = WorkerHeartbeat(workerIndex: 0, now: 0)
        let timer = HeartbeatTimer(heartbeat: heartbeat, period: 5_000_000)
        timer.start(on: loop)
        let first = heartbeat.lastBeat
        #expect(first > 0)
        for _ in 0..<3 { loop.runOnce(maximumWaitMilliseconds: 20) }
        #expect(heartbeat.lastBeat > first, "the loop's timer stamps again")
        timer.stop()
        #expect(heartbeat.lastBeat == WorkerHeartbeat.retired)
        #expect(loop.timers.isEmpty)
    }

    @Test func noWatchdogMeansNoTimersAndNoPings() throws {
        let receiver = try Receiver(abstract: true)
        let service = ServiceIntegration(notifier: try ServiceNotifier(socketPath: receiver.address),
                                         activation: SocketActivation(sockets: []), watchdogTimeout: nil, logger: quiet)
        #expect(service.makeHeartbeatTimer(workerIndex: 0) == nil)
        #expect(service.pollTimeout(-1, now: 1) == -1)
        service.watchdogTick(now: .max)
        #expect(receiver.next(timeout: 50) == nil)
    }

    // MARK: Socket activation

    private func listener(_ name: String, _ addresses: [String]) -> ListenerConfiguration {
        ListenerConfiguration(name: name, addresses: addresses.map { try! ListenAddress.parse($0).get() },
                              hosts: [], defaultHost: nil)
    }

    private func inherited(_ fd: Int32, _ name: String?, _ host: String, _ port: UInt16) -> InheritedSocket {
        InheritedSocket(fd: fd, name: name, address: SocketAddress(numericHost: host, port: port)!)
    }

    @Test func socketsAreMatchedByNameThenByAddress() throws {
        var configuration = ProxyConfiguration()
        configuration.listeners = [
            listener("https", ["127.0.0.1:8443", "[::1]:8443"]),
            listener("admin", ["127.0.0.1:9443", "[::1]:9443"]),
            listener("plain", ["127.0.0.1:7443"]),
        ]
        let activation = SocketActivation(sockets: [
            inherited(3, "https", "0.0.0.0", 443),          // by name: replaces https's addresses
            inherited(4, "https", "::", 443),
            inherited(5, nil, "127.0.0.1", 9443),           // by address: replaces only that address
            inherited(6, "portcullis.socket", "::1", 9443), // systemd's default name matches no listener: by address
        ])
        let assignment = try activation.assign(to: configuration)
        #expect(assignment.inherited[0].map(\.fd) == [3, 4])
        #expect(assignment.toBind[0].isEmpty, "a listener named by the .socket unit binds nothing itself")
        #expect(assignment.inherited[1].map(\.fd) == [5, 6])
        #expect(assignment.toBind[1].isEmpty)
        #expect(assignment.inherited[2].isEmpty)
        #expect(assignment.toBind[2].map(\.description) == ["127.0.0.1:7443"])

        let partial = try SocketActivation(sockets: [inherited(3, nil, "::1", 9443)]).assign(to: configuration)
        #expect(partial.toBind[1].map(\.description) == ["127.0.0.1:9443"], "the other address is still bound")
    }

    @Test func unmatchedAndConflictingSocketsAreErrorsNamingThem() {
        var configuration = ProxyConfiguration()
        configuration.listeners = [listener("https", ["127.0.0.1:8443"]), listener("admin", ["127.0.0.1:9443"])]
        let stray = SocketActivation(sockets: [inherited(3, "https", "0.0.0.0", 443), inherited(4, "metrics", "0.0.0.0", 9100)])
        #expect(throws: SocketActivationError(
            "fd 4 (name \"metrics\", 0.0.0.0:9100) match(es) no [[listener]] by name (FileDescriptorName=) or by address; "
                + "listeners: https (127.0.0.1:8443), admin (127.0.0.1:9443)")) { try stray.assign(to: configuration) }
        let conflict = SocketActivation(sockets: [inherited(3, "https", "127.0.0.1", 9443)])
        #expect(throws: SocketActivationError(
            "fd 3 (name \"https\", 127.0.0.1:9443) is named for listener https, but listener admin lists its address")) {
            try conflict.assign(to: configuration)
        }
        // Port 0 in the configuration asks for a fresh port: it never matches an inherited socket.
        configuration.listeners = [listener("test", ["127.0.0.1:0"])]
        #expect(throws: SocketActivationError.self) {
            try SocketActivation(sockets: [inherited(3, nil, "127.0.0.1", 0)]).assign(to: configuration)
        }
    }

    @Test func listenEnvironmentIsValidatedAndAlwaysUnset() throws {
        let us = getpid()
        #expect(try SocketActivation.inherit(listenPID: nil, listenFDs: "2", listenFDNames: nil, ourPID: us).sockets.isEmpty)
        #expect(try SocketActivation.inherit(listenPID: "\(us + 1)", listenFDs: "2", listenFDNames: nil, ourPID: us).sockets.isEmpty)
        #expect(try SocketActivation.inherit(listenPID: "\(us)", listenFDs: nil, listenFDNames: nil, ourPID: us).sockets.isEmpty)
        #expect(try SocketActivation.inherit(listenPID: "\(us)", listenFDs: "0", listenFDNames: nil, ourPID: us).sockets.isEmpty)
        #expect(throws: SocketActivationError("LISTEN_PID=abc is not a process id")) {
            try SocketActivation.inherit(listenPID: "abc", listenFDs: "1", listenFDNames: nil, ourPID: us)
        }
        #expect(throws: SocketActivationError("LISTEN_FDS=-1 is not a descriptor count")) {
            try SocketActivation.inherit(listenPID: "\(us)", listenFDs: "-1", listenFDNames: nil, ourPID: us)
        }
        #expect(throws: SocketActivationError("LISTEN_FDNAMES has 1 name(s) for LISTEN_FDS=2 descriptor(s)")) {
            try SocketActivation.inherit(listenPID: "\(us)", listenFDs: "2", listenFDNames: "https", ourPID: us)
        }
        // Meant for another process: nothing is taken, and nothing is left for children either.
        setenv("LISTEN_PID", "\(us + 1)", 1)
        setenv("LISTEN_FDS", "1", 1)
        setenv("LISTEN_FDNAMES", "https", 1)
        #expect(try SocketActivation.fromEnvironment().sockets.isEmpty)
        #expect(getenv("LISTEN_PID") == nil && getenv("LISTEN_FDS") == nil && getenv("LISTEN_FDNAMES") == nil)
    }

    // MARK: Privileges

    @Test func rootWithoutAUserIsRefusedUnlessAllowed() throws {
        #expect(throws: PrivilegeError.self) { try PrivilegePlan.make(user: nil, group: nil, allowRoot: false, euid: 0, egid: 0) }
        do {
            _ = try PrivilegePlan.make(user: nil, group: nil, allowRoot: false, euid: 0, egid: 0)
        } catch {
            #expect(error.description.hasPrefix("refusing to run as root without a user to switch to"))
            #expect(error.description.contains("--allow-root"))
        }
        let kept = try PrivilegePlan.make(user: nil, group: nil, allowRoot: true, euid: 0, egid: 0)
        #expect(kept.action == .keepRoot && kept.keepsRoot && kept.reloadNote == nil)
        let grouped = try PrivilegePlan.make(user: nil, group: "0", allowRoot: true, euid: 0, egid: 0)
        #expect(grouped.action == .switchGroup(name: "0", gid: 0) && grouped.keepsRoot)
    }

    @Test func rootSwitchesToTheConfiguredUserByNameOrNumber() throws {
        let byName = try PrivilegePlan.make(user: "nobody", group: nil, allowRoot: false, euid: 0, egid: 0)
        guard case .switchUser(let name, let uid, let gid) = byName.action else {
            Issue.record("expected a switch, got \(byName)")
            return
        }
        #expect(name == "nobody" && uid == 65534 && gid != 0)
        #expect(!byName.keepsRoot)
        #expect(byName.reloadNote?.hasPrefix("reloads run as user nobody (uid 65534)") == true)
        let byNumber = try PrivilegePlan.make(user: "65534", group: "0", allowRoot: false, euid: 0, egid: 0)
        #expect(byNumber.action == .switchUser(name: "nobody", uid: 65534, gid: 0), "group overrides the primary group")
        #expect(throws: PrivilegeError("user: no user named no-such-user-here (see getent passwd no-such-user-here)")) {
            try PrivilegePlan.make(user: "no-such-user-here", group: nil, allowRoot: true, euid: 0, egid: 0)
        }
        #expect(throws: PrivilegeError("group: no group named no-such-group-here (see getent group no-such-group-here)")) {
            try PrivilegePlan.make(user: "nobody", group: "no-such-group-here", allowRoot: false, euid: 0, egid: 0)
        }
    }

    @Test func unprivilegedProcessesKeepTheirUserOrAreRefused() throws {
        let same = try PrivilegePlan.make(user: "nobody", group: nil, allowRoot: false, euid: 65534, egid: 65534)
        #expect(same.action == .keepUnprivileged(uid: 65534) && !same.keepsRoot)
        let none = try PrivilegePlan.make(user: nil, group: nil, allowRoot: false, euid: 1000, egid: 1000)
        #expect(none.action == .keepUnprivileged(uid: 1000))
        do {
            _ = try PrivilegePlan.make(user: "nobody", group: nil, allowRoot: false, euid: 1000, egid: 1000)
            Issue.record("switching users without root must be refused")
        } catch {
            #expect(error.description.hasPrefix("cannot switch to user nobody (uid 65534): the proxy runs as"), "\(error)")
            #expect(error.description.contains("only root can change users"), "\(error)")
        }
        #expect(throws: PrivilegeError.self) {
            try PrivilegePlan.make(user: nil, group: "0", allowRoot: false, euid: 1000, egid: 1000)
        }
    }
}
