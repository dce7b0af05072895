internal import Glibc
public import Logging

/// Everything `ProxyServer` does for systemd: the sockets it inherits (socket activation), the `sd_notify`
/// state changes (READY, RELOADING, STOPPING, STATUS), and the watchdog fed by the worker loops.
///
/// The default instance does nothing (no notify socket, no inherited socket, no watchdog), which is what
/// embedding and the in-process tests get. `portcullis run` builds one from the environment.
///
/// Watchdog design: when `WATCHDOG_USEC` asks for pings (and `WATCHDOG_PID` is unset or this process), each
/// worker loop runs a `HeartbeatTimer` every quarter interval that stamps its own `WorkerHeartbeat` (a
/// relaxed atomic store, no lock). The control thread wakes every half interval and sends `WATCHDOG=1` only
/// when every running worker stamped within the last half interval. A worker stuck in a handler or a
/// blocking call stops stamping, the pings stop, and systemd restarts the service within 1.5 intervals of
/// the hang. Exited workers (after a drain) no longer count.
///
/// Thread safety: confined to the thread that binds and runs the server (the control thread), except the
/// heartbeats, which workers stamp.
public final class ServiceIntegration: @unchecked Sendable {
    /// Where state changes go; nil when not run under a notify-aware supervisor.
    public let notifier: ServiceNotifier?
    /// Sockets from systemd, replacing some configured addresses.
    public let activation: SocketActivation
    /// The watchdog timeout systemd enforces (nanoseconds), when the proxy must ping it.
    public let watchdogTimeout: UInt64?
    /// The privilege change applied after binding, when any (for the reload-failure note).
    public var privileges: PrivilegePlan?
    private let logger: Logger
    private var heartbeats: [WorkerHeartbeat] = []
    private var nextPing: UInt64 = 0
    private var withholding = false
    private var notifyFailureLogged = false

    /// No notifications, no inherited sockets, no watchdog.
    public convenience init() {
        self.init(notifier: nil, activation: SocketActivation(sockets: []), watchdogTimeout: nil,
                  logger: Logger(label: "portcullis", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    public init(notifier: ServiceNotifier?, activation: SocketActivation, watchdogTimeout: UInt64?, logger: Logger) {
        self.notifier = notifier
        self.activation = activation
        self.watchdogTimeout = notifier == nil ? nil : watchdogTimeout
        self.logger = logger
    }

    /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, with `activation` read earlier (see
    /// `SocketActivation.fromEnvironment`).
    public static func fromEnvironment(activation: SocketActivation, logger: Logger) throws -> ServiceIntegration {
        let notifier = try ServiceNotifier.fromEnvironment()
        return ServiceIntegration(
            notifier: notifier, activation: activation,
            watchdogTimeout: watchdogTimeout(usec: environment("WATCHDOG_USEC"), pid: environment("WATCHDOG_PID"), ourPID: getpid()),
            logger: logger)
    }

    /// The watchdog timeout in nanoseconds when `WATCHDOG_USEC` is a positive number and `WATCHDOG_PID` is
    /// unset or `ourPID` (as `sd_watchdog_enabled(3)`).
    static func watchdogTimeout(usec: String?, pid: String?, ourPID: Int32) -> UInt64? {
        guard let usec, let microseconds = UInt64(usec), microseconds > 0 else { return nil }
        if let pid, Int32(pid) != ourPID { return nil }
        let (nanoseconds, overflow) = microseconds.multipliedReportingOverflow(by: 1_000)
        return overflow ? nil : nanoseconds
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    // MARK: Sockets

    private var cachedAssignment: SocketActivation.Assignment?

    /// Which sockets each listener of `configuration` inherits and which addresses it still binds.
    func assignment(for configuration: ProxyConfiguration) throws -> SocketActivation.Assignment {
        if let cachedAssignment { return cachedAssignment }
        let assignment = try activation.assign(to: configuration)
        for (index, sockets) in assignment.inherited.enumerated() where !sockets.isEmpty {
            let listener = configuration.listeners[index]
            let skipped = listener.addresses.filter { address in
                !assignment.toBind[index].contains(address) && !sockets.contains { SocketActivation.same(address, $0.address) }
            }
            let note = skipped.isEmpty ? "" : "; configured \(skipped.map(\.description).joined(separator: ", ")) not bound (the .socket unit names this listener)"
            logger.info("listener \(listener.name): serving \(sockets.count) socket(s) from systemd: \(sockets.map(\.description).joined(separator: ", "))\(note)")
        }
        cachedAssignment = assignment
        return assignment
    }

    // MARK: Watchdog

    /// The heartbeat timer for worker `index`, or nil when no watchdog is running.
    func makeHeartbeatTimer(workerIndex index: Int) -> HeartbeatTimer? {
        guard let watchdogTimeout else { return nil }
        let heartbeat = WorkerHeartbeat(workerIndex: index, now: MonotonicClock.now())
        heartbeats.append(heartbeat)
        return HeartbeatTimer(heartbeat: heartbeat, period: watchdogTimeout / 4)
    }

    /// `timeout` (milliseconds, -1 = forever) shortened to the next watchdog ping.
    func pollTimeout(_ timeout: Int32, now: UInt64) -> Int32 {
        guard watchdogTimeout != nil else { return timeout }
        let wait = nextPing > now ? Int32(clamping: (nextPing - now + 999_999) / 1_000_000) : 0
        return timeout < 0 ? wait : min(timeout, wait)
    }

    /// Sends `WATCHDOG=1` when a ping is due and every running worker has stamped recently.
    func watchdogTick(now: UInt64) {
        guard let watchdogTimeout, now >= nextPing else { return }
        nextPing = now &+ watchdogTimeout / 2
        let staleAfter = watchdogTimeout / 2
        let stale = heartbeats.first { heartbeat in
            let last = heartbeat.lastBeat
            return last != WorkerHeartbeat.retired && now > last && now - last > staleAfter
        }
        if let stale {
            if !withholding {
                logger.critical("worker \(stale.workerIndex)'s event loop has not run for \((now - stale.lastBeat) / 1_000_000) ms: withholding the systemd watchdog ping, so the service gets restarted")
                withholding = true
            }
            return
        }
        if withholding {
            logger.warning("every worker loop is running again; systemd watchdog pings resumed")
            withholding = false
        }
        send(["WATCHDOG=1"])
    }

    // MARK: States

    /// Every listener is bound and the hosts are loaded.
    func ready(status: String) {
        nextPing = MonotonicClock.now()
        send(["READY=1", ServiceNotifier.statusLine(status)])
    }

    /// A reload starts (SIGHUP).
    func reloading() {
        send(["RELOADING=1", "MONOTONIC_USEC=\(ServiceNotifier.monotonicMicroseconds())",
              ServiceNotifier.statusLine("reloading the configuration")])
    }

    /// A reload ended; `error` is nil when the new configuration is serving.
    func reloaded(error: (any Error)?) {
        if let error {
            send(["READY=1", ServiceNotifier.statusLine("reload failed, serving the previous configuration: \(error)")])
        } else {
            send(["READY=1", ServiceNotifier.statusLine("configuration reloaded")])
        }
    }

    /// Draining starts (SIGTERM/SIGINT).
    func stopping(openConnections: Int) {
        send(["STOPPING=1", ServiceNotifier.statusLine("draining \(openConnections) open connection(s)")])
    }

    /// A suffix for a failed reload's log line, when privileges were dropped.
    var reloadFailureNote: String {
        privileges?.reloadNote.map { " (\($0))" } ?? ""
    }

    private func send(_ lines: [String]) {
        guard let notifier, let error = notifier.send(lines) else { return }
        if !notifyFailureLogged {
            logger.warning("cannot notify systemd (\(lines[0])): \(error)")
            notifyFailureLogged = true
        }
    }
}
