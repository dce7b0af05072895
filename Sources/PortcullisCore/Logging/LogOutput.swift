#if canImport(Glibc)
internal import Glibc
#endif

/// A destination for whole log lines: stdout, stderr or a file opened with O_APPEND.
///
/// Thread safety without a lock: each line is handed to the kernel in a single `write(2)`, and O_APPEND
/// writes are atomic with respect to each other, so lines from different workers never interleave.
public final class LogOutput: Sendable {
    /// The file descriptor written to.
    public let fileDescriptor: Int32
    private let ownsDescriptor: Bool
    /// What it writes to, for messages.
    public let name: String

    /// Standard output.
    public static let stdout = LogOutput(fileDescriptor: 1, owns: false, name: "stdout")
    /// Standard error.
    public static let stderr = LogOutput(fileDescriptor: 2, owns: false, name: "stderr")

    private init(fileDescriptor: Int32, owns: Bool, name: String) {
        self.fileDescriptor = fileDescriptor
        self.ownsDescriptor = owns
        self.name = name
    }

    /// Opens `path` for appending (created with mode 0640).
    public static func file(_ path: String) throws -> LogOutput {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw LogOutputError(path: path, errno: errno) }
        return LogOutput(fileDescriptor: fd, owns: true, name: path)
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

    /// Writes `line` plus a newline in one system call (retrying only on EINTR and short writes).
    public func write(line: String) {
        var bytes = Array(line.utf8)
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
