#if canImport(Glibc)
internal import Glibc
#endif

/// A destination for whole log lines: stdout, stderr or a file opened with O_APPEND.
///
/// Thread safety without a lock: each line is handed to the kernel in a single `write(2)`, and O_APPEND
/// writes are atomic with respect to each other, so lines from different workers never interleave.
///
/// When stdout or stderr is systemd's journal stream (`JOURNAL_STREAM` names its device and inode, as
/// systemd sets it for `StandardOutput=journal`), each line starts with its syslog priority (`<4>` for a
/// warning, sd-daemon(3)), which journald turns into the entry's priority: `journalctl -p warning -u
/// portcullis` then shows warnings and worse only.
public final class LogOutput: Sendable {
    /// The file descriptor written to.
    public let fileDescriptor: Int32
    private let ownsDescriptor: Bool
    /// What it writes to, for messages.
    public let name: String
    /// The descriptor is the journal's stream: lines carry a priority prefix, and journald adds the time.
    public let isJournal: Bool

    /// Standard output.
    public static let stdout = LogOutput(fileDescriptor: 1, owns: false, name: "stdout")
    /// Standard error.
    public static let stderr = LogOutput(fileDescriptor: 2, owns: false, name: "stderr")

    private init(fileDescriptor: Int32, owns: Bool, name: String) {
        self.fileDescriptor = fileDescriptor
        self.ownsDescriptor = owns
        self.name = name
        self.isJournal = !owns && Self.isJournalStream(fileDescriptor, journalStream: getenv("JOURNAL_STREAM").map { String(cString: $0) })
    }

    /// True when `fd` is the stream `journalStream` (`JOURNAL_STREAM`'s `device:inode`) names.
    static func isJournalStream(_ fd: Int32, journalStream: String?) -> Bool {
        guard let journalStream else { return false }
        let parts = journalStream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// Opens `path` for appending (created with mode 0640).
    public static func file(_ path: String) throws -> LogOutput {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw LogOutputError(path: path, errno: errno) }
        return LogOutput(fileDescriptor: fd, owns: true, path: path)
    }

    private convenience init(fileDescriptor: Int32, owns: Bool, path: String) {
        self.init(fileDescriptor: fileDescriptor, owns: owns, name: path)
    }

    /// Opens the file at the same path again and puts it in place of the current one (after logrotate moved
    /// it away). `dup2` swaps the descriptor atomically: a line written concurrently lands whole in the old
    /// file or in the new one. Does nothing for stdout and stderr. On failure the old file stays in use.
    public func reopen() throws {
        guard ownsDescriptor else { return }
        let fd = Glibc.open(name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw LogOutputError(path: name, errno: errno) }
        defer { close(fd) }
        guard dup2(fd, fileDescriptor) >= 0 else { throw LogOutputError(path: name, errno: errno) }
        // dup2 clears close-on-exec on the target (the proxy never execs; kept for hygiene).
        _ = fcntl(fileDescriptor, F_SETFD, FD_CLOEXEC)
    }

    /// The output for a configured destination; nil for `.off`.
    public static func opening(_ destination: LogDestination) throws -> LogOutput? {
        switch destination {
        case .stdout: return .stdout
        case .stderr: return .stderr
        case .file(let path): return try file(path)
        case .off: return nil
        }
    }

    deinit {
        if ownsDescriptor { close(fileDescriptor) }
    }

    /// Writes `line` plus a newline in one system call (retrying only on EINTR and short writes). On the
    /// journal stream the line is prefixed with `<priority>` (syslog: 2 critical ... 7 debug).
    public func write(line: String, priority: Int = 6) {
        var bytes = isJournal ? Array("<\(priority)>\(line)".utf8) : Array(line.utf8)
        bytes.append(0x0A)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // a log that cannot be written must not take the proxy down
                }
                offset += written
            }
        }
    }
}

/// A log file could not be opened.
public struct LogOutputError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let errno: Int32
    public var description: String { "cannot open log file \(path): \(String(cString: strerror(errno)))" }
}
