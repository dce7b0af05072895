import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real `portcullis` binary, started on a generated config for one test and always stopped afterwards.
final class ProxyProcess: @unchecked Sendable {
    let directory: URL
    let configPath: String
    let logPath: String
    private let process = Process()

    /// Writes `config` (TOML) to a fresh temp dir and starts `portcullis run --config` on it. Waits until every
    /// port in `waitForPorts` is listening.
    /// `allowRoot` passes `--allow-root` when the tests run as root (they mostly do in CI) and the config
    /// names no user; pass false to see the refusal. `launcher` runs the binary through another program
    /// (e.g. `prlimit --nofile=...`) that execs it, so `pid` is still the proxy's. `logIsJournal` sets
    /// `JOURNAL_STREAM` to the log file's device and inode, as systemd does for the journal's stream.
    init(config: String, waitForPorts ports: [UInt16], extraArguments: [String] = [],
         environment: [String: String] = [:], allowRoot: Bool = true, launcher: [String] = [],
         logIsJournal: Bool = false) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-itest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        configPath = directory.appendingPathComponent("portcullis.toml").path
        logPath = directory.appendingPathComponent("portcullis.log").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let arguments = ["run", "--config", configPath] + extraArguments + (allowRoot && getuid() == 0 ? ["--allow-root"] : [])
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(launcher.dropFirst()) + [BinaryLocator.portcullis.path] + arguments
        } else {
            process.executableURL = BinaryLocator.portcullis
            process.arguments = arguments
        }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        env["JOURNAL_STREAM"] = nil
        if logIsJournal {
            var info = stat()
            guard stat(logPath, &info) == 0 else { throw IntegrationError.setup("cannot stat \(logPath)") }
            env["JOURNAL_STREAM"] = "\(info.st_dev):\(info.st_ino)"
        }
        process.environment = env
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        for port in ports {
            while !Ports.isListening(port) {
                guard process.isRunning else {
                    throw IntegrationError.setup("portcullis exited with status \(process.terminationStatus); log:\n\(self.log)")
                }
                guard Date() < deadline else {
                    stop()
                    throw IntegrationError.timeout("portcullis did not listen on \(port) within 20 s; log:\n\(self.log)")
                }
                usleep(20_000)
            }
        }
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// Everything the proxy logged so far (stdout and stderr).
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Log lines containing `text`.
    func logLines(containing text: String) -> [Substring] {
        log.split(separator: "\n").filter { $0.contains(text) }
    }

    /// Waits until the log contains `text` `count` times.
    @discardableResult
    func waitForLog(_ text: String, count: Int = 1, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if logLines(containing: text).count >= count { return true }
            usleep(50_000)
        }
        return false
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Replaces the config file on disk (for reload tests).
    func rewriteConfig(_ config: String) throws {
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Waits for the process to exit; returns its status, or nil on timeout.
    func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { return nil }
            usleep(20_000)
        }
        return process.terminationStatus
    }

    /// SIGTERM, then SIGKILL if it has not exited after 10 s. Safe to call twice.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        if waitForExit(timeout: 10) == nil {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// Loopback port helpers.
enum Ports {
    /// A port that was free a moment ago (bound to 0, read back, released).
    static func free() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// A port below 1024 nobody listens on: one root can bind, or (not root) one refused only for lacking
    /// the privilege.
    static func freePrivileged() -> UInt16? {
        for port in UInt16(600)..<UInt16(1000) where !isListening(port) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 || errno == EACCES { return port }
        }
        return nil
    }

    /// True once some socket listens on `port` (read from /proc/net/tcp{,6}, so no probe connection is made
    /// that the proxy would log as a failed handshake).
    static func isListening(_ port: UInt16) -> Bool {
        let hex = String(format: ":%04X", port)
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            for line in readProcFileToEnd(file).split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if fields.count > 3, fields[1].hasSuffix(hex), fields[3] == "0A" { return true }
            }
        }
        return false
    }

    static func waitUntilListening(_ port: UInt16, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if isListening(port) { return true }
            usleep(20_000)
        }
        return false
    }
}
