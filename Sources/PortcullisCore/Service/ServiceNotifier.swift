internal import CPortcullisSystem
internal import Glibc

/// A hand-written `sd_notify(3)` client: state changes as `KEY=VALUE` lines in one unix datagram to the
/// socket systemd names in `NOTIFY_SOCKET` (no libsystemd).
///
/// - The address is an absolute path, or an abstract socket written with a leading `@`.
/// - Each message is one `sendto` on a datagram socket that is never connected, so the notifier keeps working
///   when systemd re-creates its socket (`systemctl daemon-reexec`).
/// - Sending never blocks (`MSG_DONTWAIT`): the control thread must not stall on a full queue. A lost
///   message is reported by the return value; the caller logs it.
///
/// Thread safety: `send` may be called from any thread (each call is a single syscall on an immutable fd).
public final class ServiceNotifier: Sendable {
    /// `NOTIFY_SOCKET` as given: `/run/systemd/notify` or `@abstract-name`.
    public let socketPath: String
    private let fd: Int32

    /// A notifier for the socket at `socketPath`. Throws when the path is not absolute nor abstract (`@...`),
    /// or when no datagram socket can be created.
    public init(socketPath: String) throws {
        guard socketPath.count >= 2, socketPath.hasPrefix("/") || socketPath.hasPrefix("@") else {
            throw SystemCallError("NOTIFY_SOCKET=\(socketPath) is neither an absolute path nor an abstract socket (@name)", code: EINVAL)
        }
        let fd = portcullis_notify_socket()
        guard fd >= 0 else { throw SystemCallError.last("socket(AF_UNIX, SOCK_DGRAM) for NOTIFY_SOCKET") }
        self.socketPath = socketPath
        self.fd = fd
    }

    deinit { close(fd) }

    /// The notifier systemd asked for through `NOTIFY_SOCKET`, or nil when the variable is unset or empty.
    /// The variable is left in place (the proxy starts no children).
    public static func fromEnvironment() throws -> ServiceNotifier? {
        guard let path = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !path.isEmpty else { return nil }
        return try ServiceNotifier(socketPath: path)
    }

    /// Sends `lines` (each `KEY=VALUE`, no newline inside) as one datagram. Returns nil when it was sent,
    /// else why not.
    @discardableResult
    public func send(_ lines: [String]) -> SystemCallError? {
        let message = lines.joined(separator: "\n")
        let sent = message.withCString { text in
            portcullis_notify_send(fd, socketPath, text, UInt(strlen(text)))
        }
        return sent < 0 ? SystemCallError.last("sd_notify to \(socketPath)") : nil
    }

    /// `STATUS=` text: one line (newlines would start new fields).
    static func statusLine(_ text: String) -> String {
        "STATUS=" + text.split(whereSeparator: \.isNewline).joined(separator: " / ")
    }

    /// `CLOCK_MONOTONIC` in microseconds, the clock `MONOTONIC_USEC=` is read on.
    static func monotonicMicroseconds() -> UInt64 {
        MonotonicClock.now() / 1_000
    }
}
