import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A unix datagram socket standing in for systemd's `NOTIFY_SOCKET`: an abstract name (`@...`) or a path in
/// a temp dir. It collects the datagrams the proxy sends.
final class NotifySocket: @unchecked Sendable {
    /// What to put in `NOTIFY_SOCKET`.
    let address: String
    private let fd: Int32
    private let path: String?

    init(abstract: Bool) throws {
        let name = "portcullis-itest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IntegrationError.setup("notify socket: errno \(errno)") }
        self.fd = fd
        var bytes: [UInt8]
        if abstract {
            address = "@" + name
            path = nil
            bytes = [0] + Array(name.utf8)
        } else {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent(name + ".sock").path
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
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard result == 0 else { throw IntegrationError.setup("bind notify socket \(address): errno \(errno)") }
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }

    /// The next datagram, or nil when none arrives within `timeout` seconds.
    func next(timeout: TimeInterval) -> String? {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n >= 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }

    /// The next datagram that is not a watchdog ping (those are counted into `pings`).
    func nextState(timeout: TimeInterval, pings: inout Int) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let message = next(timeout: max(0.01, deadline.timeIntervalSinceNow)) else { return nil }
            if message == "WATCHDOG=1" { pings += 1 } else { return message }
        }
        return nil
    }

    /// Every datagram arriving within `duration` seconds.
    func drain(for duration: TimeInterval) -> [String] {
        let deadline = Date().addingTimeInterval(duration)
        var messages: [String] = []
        while let message = next(timeout: max(0, deadline.timeIntervalSinceNow)) { messages.append(message) }
        return messages
    }
}

/// Splits `KEY=VALUE` lines of one notify datagram.
func notifyFields(_ message: String) -> [String: String] {
    var fields: [String: String] = [:]
    for line in message.split(separator: "\n") {
        guard let equals = line.firstIndex(of: "=") else { continue }
        fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
    }
    return fields
}

/// `CLOCK_MONOTONIC` in microseconds, as `MONOTONIC_USEC` is stamped.
func monotonicMicroseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_nsec) / 1_000
}

/// A listening TCP socket on 127.0.0.1 made by the test, as systemd makes one for a `.socket` unit. It stays
/// open in the test while proxies come and go, like systemd keeps it across service restarts.
final class ActivationSocket: @unchecked Sendable {
    let fd: Int32
    let port: UInt16

    init(backlog: Int32 = 64) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IntegrationError.setup("socket: errno \(errno)") }
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else {
            close(fd)
            throw IntegrationError.setup("bind/listen: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(fd) }

    /// The socket's inode (what /proc shows as `socket:[INODE]`).
    var inode: UInt64 {
        var status = stat()
        fstat(fd, &status)
        return UInt64(status.st_ino)
    }

    /// Connections completed by the kernel and waiting in the accept queue (a listening socket's `rx_queue`
    /// in /proc/net/tcp).
    var queuedConnections: Int {
        let hex = String(format: ":%04X", port)
        let text = readProcFileToEnd("/proc/net/tcp")
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 4, fields[1].hasSuffix(hex), fields[3] == "0A" else { continue }
            let queues = fields[4].split(separator: ":")
            return queues.count == 2 ? Int(queues[1], radix: 16) ?? 0 : 0
        }
        return 0
    }

}

/// The real binary started the way systemd starts a socket-activated service: the given descriptors as
/// fd 3, 4, ..., `LISTEN_FDS`, `LISTEN_FDNAMES`, and `LISTEN_PID` set to the proxy's own pid (a shell sets it
/// to `$$` and then `exec`s the binary, so the pid is the same).
final class ActivatedProxy: @unchecked Sendable {
    let pid: pid_t
    let logPath: String
    private var exitStatus: Int32?

    init(configPath: String, inherit descriptors: [Int32], names: [String]?, environment: [String: String] = [:],
         arguments: [String] = []) throws {
        logPath = configPath + ".log"
        let logFD = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard logFD >= 0 else { throw IntegrationError.setup("open \(logPath): errno \(errno)") }
        defer { close(logFD) }
        // Moved above any target number first, so a dup2 never lands on a descriptor still to be copied.
        let staged = descriptors.map { fcntl($0, F_DUPFD_CLOEXEC, 100) }
        defer { staged.forEach { close($0) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, logFD, 1)
        posix_spawn_file_actions_adddup2(&actions, logFD, 2)
        for (offset, fd) in staged.enumerated() { posix_spawn_file_actions_adddup2(&actions, fd, Int32(3 + offset)) }

        var env = ProcessInfo.processInfo.environment
        for key in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            env[key] = nil
        }
        env["LISTEN_FDS"] = String(descriptors.count)
        if let names { env["LISTEN_FDNAMES"] = names.joined(separator: ":") }
        for (key, value) in environment { env[key] = value }
        let argv = ["/bin/sh", "-c", "LISTEN_PID=$$; export LISTEN_PID; exec \"$@\"", "sh",
                    BinaryLocator.portcullis.path, "run", "--config", configPath] + arguments
        let envp = env.map { "\($0.key)=\($0.value)" }
        var cArgv = argv.map { strdup($0) } + [nil]
        var cEnvp = envp.map { strdup($0) } + [nil]
        defer {
            cArgv.forEach { free($0) }
            cEnvp.forEach { free($0) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, "/bin/sh", &actions, nil, &cArgv, &cEnvp)
        guard result == 0 else { throw IntegrationError.setup("posix_spawn: \(result)") }
        pid = child
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) { kill(pid, signal) }

    /// The exit status once the process exited (waits up to `timeout`), nil while it runs.
    func waitForExit(timeout: TimeInterval) -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                // WIFEXITED / WEXITSTATUS, spelled out (the macros do not import).
                exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                return exitStatus
            }
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    /// Waits until the log contains `text`.
    func waitForLog(_ text: String, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.contains(text) { return true }
            usleep(20_000)
        }
        return false
    }

    /// SIGTERM, then SIGKILL after 10 s. Safe to call twice.
    func stop() {
        guard exitStatus == nil else { return }
        kill(pid, SIGTERM)
        if waitForExit(timeout: 10) == nil {
            kill(pid, SIGKILL)
            _ = waitForExit(timeout: 5)
        }
    }

    deinit { stop() }
}

/// `Uid:`, `Gid:`, `Groups:` and `Cap*:` lines of /proc/PID/status (and of each thread, under task/).
enum ProcStatus {
    static func fields(_ path: String) -> [String: String] {
        let text = readProcFileToEnd(path)
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    static func process(_ pid: Int32) -> [String: String] { fields("/proc/\(pid)/status") }

    static func threads(_ pid: Int32) -> [[String: String]] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.map { fields("/proc/\(pid)/task/\($0)/status") }
    }

    /// The epoll registrations of process `pid` that watch the file with inode `inode` (from every
    /// `/proc/PID/fdinfo` of an epoll descriptor): one `events` mask per registration.
    static func epollRegistrations(_ pid: Int32, inode: UInt64) -> [UInt32] {
        let directory = "/proc/\(pid)/fd"
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var masks: [UInt32] = []
        let wanted = "ino:" + String(inode, radix: 16)
        for descriptor in descriptors {
            guard (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(descriptor)")) == "anon_inode:[eventpoll]" else {
                continue
            }
            let info = readProcFileToEnd("/proc/\(pid)/fdinfo/\(descriptor)")
            for line in info.split(separator: "\n") where line.hasPrefix("tfd:") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.contains(where: { $0 == wanted }), let index = fields.firstIndex(of: "events:"),
                      index + 1 < fields.count, let mask = UInt32(fields[index + 1], radix: 16) else { continue }
                masks.append(mask)
            }
        }
        return masks
    }
}

/// A /proc file read until EOF: its size reads as 0, and one read returns at most a page, which misses lines
/// once a file such as /proc/net/tcp grows past it.
func readProcFileToEnd(_ path: String) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}
