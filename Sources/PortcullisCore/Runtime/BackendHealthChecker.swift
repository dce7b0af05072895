internal import CPortcullisSystem
internal import Glibc
import Logging

/// Runs the active health checks of one `BackendHealthBoard`: a non-blocking connect to every checked
/// address every `health_check_interval`, on one small dedicated thread per process, and publishes each
/// verdict through the address's `BackendHealthState` (an atomic the workers load relaxed).
///
/// Why a dedicated thread rather than worker 0's event loop: checks must run once per process, and no
/// worker is special (worker 0 drains and exits like the others, and its loop is as busy as any). A
/// thread of its own keeps check scheduling out of every connection's latency, can never block an event
/// loop, and starts and stops with the table it checks: a reload stops it (`stop()` joins it, and every
/// descriptor of a check in flight is closed) and starts a new one for the new table. Between checks it
/// sleeps in `poll(2)`; the cost is one mostly idle stack.
///
/// A check is `connect(2)` on a non-blocking socket, waited for with `poll` up to the check timeout;
/// connected is a success. With `health_check_http`, the check then sends its HTTP/1.0 request and needs a
/// status line from 200 to 399 within the same timeout (HAProxy's `option httpchk`). The socket is then closed with a reset (`SO_LINGER` 0), as HAProxy closes its TCP
/// checks, so checking every 200 ms does not leave the proxy's side in TIME_WAIT. Checks of one address
/// never overlap: a check still running when the next one is due delays it.
///
/// Logs: a warning when an address goes down ("3 failed checks: connection refused"), info when it is back.
final class BackendHealthChecker: @unchecked Sendable {
    let board: BackendHealthBoard
    private let logger: Logger
    private let runner: StoppableThread

    /// One checked address's schedule (checker thread only).
    private struct Probe {
        let state: BackendHealthState
        let interval: UInt64
        let timeout: UInt64
        let rise: Int
        let fall: Int
        /// The HTTP request to send once connected; nil: connecting is the check.
        let request: [UInt8]?
        /// The socket of the check in flight, or -1.
        var fd: Int32 = -1
        var startedAt: UInt64 = 0
        /// When the next check starts (no check in flight) or times out (in flight).
        var due: UInt64 = 0
        /// Connected and the request sent: waiting for the status line.
        var awaitingResponse = false
        /// What the backend has answered so far (an HTTP check only).
        var response: [UInt8] = []
    }

    /// How one check ended.
    enum Outcome: Equatable {
        case succeeded
        case timedOut
        case failed(String)

        static func failed(errno code: Int32) -> Outcome { .failed(String(cString: strerror(code)).lowercased()) }
    }

    init(board: BackendHealthBoard, logger: Logger) throws {
        self.board = board
        self.logger = logger
        runner = try StoppableThread()
    }

    /// Starts the checker thread. The first check of every address starts at once.
    func start() throws {
        try runner.start { [self] in threadMain() }
    }

    /// Stops the checks and waits for the thread to exit (it closes the sockets of checks in flight). Call it
    /// from the thread that called `start`.
    func stop() {
        runner.stop()
    }

    private func threadMain() {
        let now = MonotonicClock.now()
        var probes: [Probe] = []
        for host in board.hosts {
            for state in host.targets {
                probes.append(Probe(state: state, interval: host.interval, timeout: host.timeout, rise: host.rise,
                                    fall: host.fall, request: host.http?.request(host: Self.hostHeader(for: state.label)),
                                    due: now))
            }
        }
        var descriptors: [pollfd] = []
        var owners: [Int] = []
        while !runner.isStopping {
            let now = MonotonicClock.now()
            var nextDue = UInt64.max
            for index in probes.indices {
                if probes[index].fd < 0 {
                    if probes[index].due <= now { begin(&probes[index], now: now) }
                } else if probes[index].due <= now {
                    finish(&probes[index], .timedOut, now: now)
                }
                nextDue = min(nextDue, probes[index].due)
            }
            descriptors.removeAll(keepingCapacity: true)
            owners.removeAll(keepingCapacity: true)
            descriptors.append(pollfd(fd: runner.wakeFD, events: Int16(POLLIN), revents: 0))
            owners.append(-1)
            for (index, probe) in probes.enumerated() where probe.fd >= 0 {
                descriptors.append(pollfd(fd: probe.fd, events: Int16(probe.awaitingResponse ? POLLIN : POLLOUT), revents: 0))
                owners.append(index)
            }
            let after = MonotonicClock.now()
            let wait = nextDue <= after ? 0 : Int32(clamping: (nextDue - after + 999_999) / 1_000_000)
            let ready = poll(&descriptors, nfds_t(descriptors.count), wait)
            guard ready > 0 else { continue }
            if descriptors[0].revents != 0 { runner.drainWake() }
            let finishedAt = MonotonicClock.now()
            for position in 1..<descriptors.count where descriptors[position].revents != 0 {
                let index = owners[position]
                if probes[index].awaitingResponse {
                    receive(&probes[index], now: finishedAt)
                    continue
                }
                let error = portcullis_socket_error(probes[index].fd)
                if error == 0, descriptors[position].revents & Int16(POLLOUT) != 0 {
                    connected(&probes[index], now: finishedAt)
                } else {
                    finish(&probes[index], .failed(errno: error > 0 ? error : ECONNREFUSED), now: finishedAt)
                }
            }
        }
        for index in probes.indices where probes[index].fd >= 0 {
            close(probes[index].fd)
            probes[index].fd = -1
        }
    }

    /// Starts one check: connected at once (a unix socket, a local port) or refused at once finishes it here.
    private func begin(_ probe: inout Probe, now: UInt64) {
        probe.startedAt = now
        let fd = portcullis_socket_stream(probe.state.address.domain)
        guard fd >= 0 else {
            // Out of descriptors is the proxy's problem, not the backend's: try again at the next interval.
            logger.error("health check of backend \(probe.state.label) of host \(probe.state.host): \(SystemCallError.last("socket"))")
            probe.due = now &+ probe.interval
            return
        }
        probe.fd = fd
        probe.due = now &+ probe.timeout
        let result = probe.state.address.withSockaddr { connect(fd, $0, $1) }
        let code = errno
        if result == 0 {
            connected(&probe, now: now)
        } else if code != EINPROGRESS && code != EAGAIN {
            // EAGAIN: a unix socket whose backlog is full; poll says when it is accepted (or times out).
            finish(&probe, .failed(errno: code), now: now)
        }
    }

    /// The check's connect succeeded: that is the check, or (HTTP) the request goes out now. It is a few
    /// hundred bytes into an empty socket buffer, so one `send` takes it all or the check fails.
    private func connected(_ probe: inout Probe, now: UInt64) {
        guard let request = probe.request else {
            finish(&probe, .succeeded, now: now)
            return
        }
        let sent = request.withUnsafeBytes { portcullis_send(probe.fd, $0.baseAddress, UInt($0.count)) }
        guard sent == request.count else {
            finish(&probe, sent < 0 ? .failed(errno: errno) : .failed("could not send the HTTP request"), now: now)
            return
        }
        probe.awaitingResponse = true
        probe.response.removeAll(keepingCapacity: true)
    }

    /// Reads the HTTP answer until its status line is complete, the backend closes, or it is too long.
    private func receive(_ probe: inout Probe, now: UInt64) {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { portcullis_recv(probe.fd, $0.baseAddress, UInt($0.count)) }
        if count < 0 {
            if errno != EAGAIN && errno != EINTR { finish(&probe, .failed(errno: errno), now: now) }
            return
        }
        probe.response += buffer[0..<count]
        switch Self.status(of: probe.response) {
        case .code(let code) where (200...399).contains(code):
            finish(&probe, .succeeded, now: now)
        case .code(let code):
            finish(&probe, .failed("HTTP status \(code)"), now: now)
        case .invalid:
            finish(&probe, .failed("the answer is not HTTP"), now: now)
        case .incomplete where count == 0 || probe.response.count >= 1024:
            finish(&probe, .failed(count == 0 ? "closed before an HTTP status line" : "no HTTP status line in 1024 bytes"), now: now)
        case .incomplete:
            break
        }
    }

    /// What an HTTP answer's first bytes say.
    enum StatusLine: Equatable {
        case incomplete
        case invalid
        case code(Int)
    }

    /// Reads `HTTP/1.x NNN ...` from the start of `response`.
    static func status(of response: [UInt8]) -> StatusLine {
        let prefix = Array("HTTP/1.".utf8)
        let common = min(response.count, prefix.count)
        guard response.prefix(common).elementsEqual(prefix.prefix(common)) else { return .invalid }
        // "HTTP/1.x NNN": the code is bytes 9 to 11, followed by a space or the end of the line.
        guard response.count >= 13 else { return .incomplete }
        let digits = response[9..<12]
        guard response[8] == UInt8(ascii: " "), digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              [UInt8(ascii: " "), UInt8(ascii: "\r"), UInt8(ascii: "\n")].contains(response[12])
        else { return .invalid }
        return .code(digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) })
    }

    /// The `Host` header for a target labelled `label` (the configured backend, maybe followed by its address).
    static func hostHeader(for label: String) -> String {
        let backend = label.split(separator: " ").first.map(String.init) ?? label
        return backend.hasPrefix("unix:") ? "localhost" : backend
    }

    /// Ends the check in flight: closes its socket, records the result, schedules the next check.
    private func finish(_ probe: inout Probe, _ outcome: Outcome, now: UInt64) {
        if probe.fd >= 0 {
            if probe.state.address.family != .unix { _ = portcullis_set_linger_zero(probe.fd) }
            close(probe.fd)
            probe.fd = -1
        }
        probe.awaitingResponse = false
        let change = probe.state.record(success: outcome == .succeeded, timedOut: outcome == .timedOut, rise: probe.rise, fall: probe.fall)
        switch change {
        case .none:
            break
        case .down(let failures):
            let reason: String
            switch outcome {
            case .succeeded: reason = "ok"
            case .timedOut: reason = "timed out"
            case .failed(let text): reason = text
            }
            logger.warning("backend \(probe.state.label) of host \(probe.state.host) is down: \(failures) failed check\(failures == 1 ? "" : "s"): \(reason)")
        case .up(let successes):
            logger.info("backend \(probe.state.label) of host \(probe.state.host) is up again: \(successes) successful check\(successes == 1 ? "" : "s")")
        }
        let next = probe.startedAt &+ probe.interval
        probe.due = next > now ? next : now
    }
}
