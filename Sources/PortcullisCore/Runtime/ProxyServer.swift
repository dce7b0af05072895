internal import CPortcullisSystem
internal import Glibc
public import Logging
import Synchronization

/// The running proxy: binds the listeners, runs the worker pool, and turns signals into reloads and a drain.
///
/// ```swift
/// let server = try ProxyServer(table: table, logging: logging)   // binds every listener (as root, if needed)
/// // drop privileges here
/// exit(try server.run())                                         // returns 0 after SIGTERM/SIGINT drained
/// ```
///
/// - Workers: `configuration.workers` threads, each with its own epoll loop and its own `SO_REUSEPORT`
///   socket per listener address (the kernel balances accepts; no accept lock, no thread per connection).
///   A socket inherited from systemd (socket activation, see `ServiceIntegration`) cannot be cloned into
///   `SO_REUSEPORT` siblings, so every worker watches its own duplicate of it with `EPOLLEXCLUSIVE` (the
///   kernel wakes one idle worker per connection).
/// - SIGHUP: calls the reload closure on the control thread. A new table is handed to every worker for new
///   connections; open connections keep the table they started with. A failed reload is logged and the old
///   table keeps serving.
/// - SIGTERM/SIGINT: drain. Workers close their listening sockets and stop accepting; open connections run
///   to completion until `drainTimeout`, then the remaining ones are reset; `run` returns 0.
/// - Signals are read from a signalfd by the thread in `run` (no work in a signal handler). `run` blocks them
///   in its thread before starting the workers, which inherit the mask; call `prepareProcess()` first thing
///   in `main` so that no other thread can take them.
/// - Listeners, workers, timeouts and `max_connections` are fixed at startup; a reload changes hosts,
///   certificates, policies and backends.
///
/// Thread safety: `bind`, `run` and the initialisers belong to one thread; `reload()`, `drain()`,
/// `listenAddresses` (after `bind`) and `openConnections` may be used from any thread.
public final class ProxyServer: ProxyServing, @unchecked Sendable {
    /// The startup configuration.
    public let configuration: ProxyConfiguration
    private let settings: RuntimeSettings
    private let reloadTable: @Sendable () throws -> any ConnectionRouter
    private let accessLog: (@Sendable (ConnectionRecord) -> Void)?
    private let logger: Logger
    private let limiter: ConnectionLimiter
    private let control: ControlChannel
    private var router: any ConnectionRouter
    private var boundSockets: [[BoundSocket]] = []
    private var workers: [Worker] = []
    private let addresses = Mutex<[String: [SocketAddress]]>([:])
    private var started = false
    /// Counters for the metrics endpoint; nil turns counting off. Set before `run()` (each worker gets its
    /// own `WorkerMetrics` when it starts).
    public var metrics: ProxyMetrics?
    /// systemd integration: inherited sockets, sd_notify states, the watchdog (inert by default).
    public let service: ServiceIntegration

    /// A server for `configuration`, serving `router` until a reload replaces it.
    ///
    /// - Parameters:
    ///   - reload: builds a new table (re-reading certificates, keys, CAs and CRLs) on SIGHUP or `reload()`;
    ///     it runs on the control thread, never on a worker. A thrown error is logged and changes nothing.
    ///   - accessLog: receives one record per connection, on the worker thread that served it; nil disables
    ///     the access log (and the cost of building records).
    public init(
        configuration: ProxyConfiguration,
        router: any ConnectionRouter,
        reload: @escaping @Sendable () throws -> any ConnectionRouter,
        accessLog: (@Sendable (ConnectionRecord) -> Void)?,
        logger: Logger,
        service: ServiceIntegration = ServiceIntegration()
    ) throws {
        self.configuration = configuration
        self.settings = RuntimeSettings(configuration)
        self.router = router
        self.reloadTable = reload
        self.accessLog = accessLog
        self.logger = logger
        self.limiter = ConnectionLimiter(maximum: configuration.maxConnections)
        self.control = try ControlChannel()
        self.service = service
    }

    /// What `portcullis run` uses: serves `table`, reloads by reading `table.configuration.sourceFile` again,
    /// writes the access log through `logging`, and binds every listener now (so privileges can be dropped
    /// before `run`).
    public convenience init(table: HostTable, logging: LoggingSetup) throws {
        try self.init(table: table, logging: logging, service: ServiceIntegration())
    }

    /// As `init(table:logging:)`, with `service` bringing the sockets systemd passed (bound instead of the
    /// configured addresses they match) and where to send state changes.
    public convenience init(table: HostTable, logging: LoggingSetup, service: ServiceIntegration) throws {
        let logger = logging.logger(label: "portcullis")
        let source = table.configuration.sourceFile
        let writer = logging.accessLog
        try self.init(
            configuration: table.configuration,
            router: table,
            reload: { () throws -> any ConnectionRouter in
                guard let source else {
                    throw ReloadError("the configuration was not read from a file, so it cannot be read again")
                }
                return try HostTable.load(file: source, logger: logger)
            },
            accessLog: writer.map { writer -> @Sendable (ConnectionRecord) -> Void in { record in writer.write(record) } },
            logger: logger,
            service: service
        )
        try bind()
    }

    deinit {
        for sockets in boundSockets {
            for socket in sockets { close(socket.fd) }
        }
    }

    /// Blocks SIGHUP, SIGTERM and SIGINT in the calling thread (threads it creates later inherit that, so
    /// only the signalfd sees them) and ignores SIGPIPE (writes to a closed socket return EPIPE instead).
    /// Call it at the start of `main`, before any other thread exists.
    public static func prepareProcess() {
        withControlSignals { _ = portcullis_block_signals($0.baseAddress, Int32($0.count)) }
        portcullis_ignore_sigpipe()
    }

    private static func withControlSignals<Result>(_ body: (UnsafeBufferPointer<Int32>) -> Result) -> Result {
        [portcullis_SIGHUP, portcullis_SIGTERM, portcullis_SIGINT].withUnsafeBufferPointer(body)
    }

    // MARK: Binding

    /// Binds one socket per worker for every listener address (`SO_REUSEPORT`; IPv6 sockets are IPv6-only,
    /// so `0.0.0.0:443` and `[::]:443` can both be listed). Port 0 binds an ephemeral port, the same one for
    /// every worker; read it from `listenAddresses`. Idempotent.
    public func bind() throws {
        guard boundSockets.isEmpty else { return }
        var perWorker = [[BoundSocket]](repeating: [], count: settings.workers)
        var bound: [String: [SocketAddress]] = [:]
        do {
            let assignment = try service.assignment(for: configuration)
            for (listenerIndex, listener) in configuration.listeners.enumerated() {
                // Sockets from systemd: every worker watches the same socket (its own duplicate descriptor)
                // with EPOLLEXCLUSIVE, since SO_REUSEPORT siblings cannot be made from an inherited socket.
                for inherited in assignment.inherited[listenerIndex] {
                    for worker in 0..<settings.workers {
                        let fd = worker == 0 ? inherited.fd : portcullis_dup_cloexec(inherited.fd)
                        guard fd >= 0 else { throw SystemCallError.last("dup of inherited \(inherited)") }
                        perWorker[worker].append(BoundSocket(fd: fd, listenerIndex: listenerIndex, address: inherited.address, shared: true))
                    }
                    bound[listener.name, default: []].append(inherited.address)
                }
                for listenAddress in assignment.toBind[listenerIndex] {
                    guard var address = SocketAddress(numericHost: listenAddress.host, port: listenAddress.port) else {
                        throw SystemCallError("listener \(listener.name): \(listenAddress) is not a numeric address", code: EINVAL)
                    }
                    for worker in 0..<settings.workers {
                        let fd = try Self.listeningSocket(address, backlog: listener.backlog, name: listener.name)
                        perWorker[worker].append(BoundSocket(fd: fd, listenerIndex: listenerIndex, address: address))
                        if worker == 0, let actual = SocketAddress.local(of: fd) { address = actual }
                    }
                    bound[listener.name, default: []].append(address)
                }
            }
        } catch {
            for sockets in perWorker { for socket in sockets { close(socket.fd) } }
            throw error
        }
        boundSockets = perWorker
        addresses.withLock { $0 = bound }
    }

    static func listeningSocket(_ address: SocketAddress, backlog: Int, name: String) throws -> Int32 {
        let fd = portcullis_socket_stream(address.domain)
        guard fd >= 0 else { throw SystemCallError.last("socket for listener \(name) \(address)") }
        _ = portcullis_set_reuseaddr(fd)
        guard portcullis_set_reuseport(fd) == 0 else {
            let error = SystemCallError.last("SO_REUSEPORT on listener \(name) \(address)")
            close(fd)
            throw error
        }
        if address.family == .ipv6 { _ = portcullis_set_v6only(fd, 1) }
        if address.withSockaddr({ Glibc.bind(fd, $0, $1) }) != 0 {
            let error = SystemCallError.last("bind listener \(name) \(address)")
            close(fd)
            throw error
        }
        if Glibc.listen(fd, Int32(clamping: backlog)) != 0 {
            let error = SystemCallError.last("listen on listener \(name) \(address)")
            close(fd)
            throw error
        }
        return fd
    }

    /// The bound addresses per listener name (ephemeral ports resolved), once `bind` has run.
    public var listenAddresses: [String: [SocketAddress]] { addresses.withLock { $0 } }

    /// Connections open right now, over all workers.
    public var openConnections: Int { limiter.count }

    // MARK: Running

    /// Serves until SIGTERM or SIGINT has drained the workers; returns the exit status (0).
    public func run() throws -> Int32 {
        try run(handlingSignals: true)
    }

    /// Serves until drained. With `handlingSignals` false, only `reload()` and `drain()` control the server
    /// (for embedding and tests, where process signals belong to someone else).
    public func run(handlingSignals: Bool) throws -> Int32 {
        precondition(!started, "ProxyServer.run may only be called once")
        started = true
        var signalFD: Int32 = -1
        if handlingSignals {
            Self.withControlSignals { _ = portcullis_block_signals($0.baseAddress, Int32($0.count)) }
            signalFD = Self.withControlSignals { portcullis_signalfd_create($0.baseAddress, Int32($0.count)) }
            guard signalFD >= 0 else { throw SystemCallError.last("signalfd") }
        }
        defer { if signalFD >= 0 { close(signalFD) } }
        portcullis_ignore_sigpipe()
        try bind()
        try startWorkers()
        let listening = listenAddresses.sorted { $0.key < $1.key }
            .map { "\($0.key)=" + $0.value.map(\.description).joined(separator: ",") }.joined(separator: " ")
        logger.info("serving with \(settings.workers) worker(s), max_connections \(settings.maxConnections): \(listening)")
        service.ready(status: "serving with \(settings.workers) worker(s): \(listening)")
        return controlLoop(signalFD: signalFD)
    }

    /// Asks for a reload (what SIGHUP does). Returns at once; the reload runs on the thread in `run`.
    public func reload() {
        control.requestReload()
    }

    /// Asks for a drain (what SIGTERM does). Returns at once; `run` returns when the drain is over.
    public func drain() {
        control.requestDrain()
    }

    private func startWorkers() throws {
        let sockets = boundSockets
        boundSockets = []
        for (index, workerSockets) in sockets.enumerated() {
            do {
                let worker = try Worker(index: index, settings: settings, router: router, sockets: workerSockets,
                                        limiter: limiter, accessLog: accessLog, logger: logger, control: control)
                worker.metrics = metrics?.attachWorker(index) { [worker] in worker.wake() }
                worker.heartbeat = service.makeHeartbeatTimer(workerIndex: index)
                try worker.start()
                workers.append(worker)
            } catch {
                for remaining in sockets[(index + 1)...] { for socket in remaining { close(socket.fd) } }
                for worker in workers { worker.post(.stop) }
                for worker in workers { worker.join() }
                workers = []
                throw error
            }
        }
    }

    /// The control thread: signals and requests in, commands to the workers out, until every worker exited.
    private func controlLoop(signalFD: Int32) -> Int32 {
        var descriptors = [pollfd(fd: control.eventFD, events: Int16(POLLIN), revents: 0)]
        if signalFD >= 0 { descriptors.append(pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)) }
        var drainDeadline: UInt64?
        var forced = false
        var finished = 0
        while finished < workers.count {
            var timeout: Int32 = -1
            if let drainDeadline, !forced {
                let now = MonotonicClock.now()
                timeout = drainDeadline > now ? Int32(clamping: (drainDeadline - now + 999_999) / 1_000_000) : 0
            }
            timeout = service.pollTimeout(timeout, now: MonotonicClock.now())
            _ = poll(&descriptors, nfds_t(descriptors.count), timeout)
            service.watchdogTick(now: MonotonicClock.now())
            var reloadWanted = false
            var drainWanted = false
            if signalFD >= 0 {
                while true {
                    let signal = portcullis_signalfd_next(signalFD)
                    if signal <= 0 { break }
                    if signal == portcullis_SIGHUP {
                        logger.info("SIGHUP: reloading the configuration")
                        reloadWanted = true
                    } else {
                        logger.info("\(signal == portcullis_SIGINT ? "SIGINT" : "SIGTERM"): draining")
                        drainWanted = true
                    }
                }
            }
            _ = portcullis_eventfd_drain(control.eventFD)
            let pending = control.take()
            finished = pending.finishedWorkers
            if pending.reloads > 0 { reloadWanted = true }
            if pending.drain { drainWanted = true }

            if reloadWanted, drainDeadline == nil { performReload() }
            if drainWanted, drainDeadline == nil {
                logger.info("draining \(limiter.count) open connection(s), deadline \(configuration.drainTimeout)")
                service.stopping(openConnections: limiter.count)
                metrics?.noteDraining()
                drainDeadline = MonotonicClock.now() &+ settings.drainTimeout
                for worker in workers { worker.post(.drain) }
            }
            if let drainDeadline, !forced, MonotonicClock.now() >= drainDeadline, finished < workers.count {
                logger.warning("drain deadline passed: resetting \(limiter.count) remaining connection(s)")
                forced = true
                for worker in workers { worker.post(.stop) }
            }
        }
        for worker in workers { worker.join() }
        logger.info("stopped")
        return 0
    }

    private func performReload() {
        service.reloading()
        do {
            let newRouter = try reloadTable()
            router = newRouter
            for worker in workers { worker.post(.reload(newRouter)) }
            metrics?.noteReload(succeeded: true, router: newRouter)
            logger.info("configuration reloaded; new connections use it, open ones keep theirs")
            service.reloaded(error: nil)
        } catch {
            metrics?.noteReload(succeeded: false, router: nil)
            logger.error("reload failed, still serving the previous configuration: \(error)\(service.reloadFailureNote)")
            service.reloaded(error: error)
        }
    }
}

/// Why a reload could not even start.
public struct ReloadError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
