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
/// - SIGHUP: reads the configuration again on the control thread (never on a worker) and applies all of it
///   that can change in a running process, or nothing (see `ReloadPlan`):
///   - hosts, certificates, policies, backends and every listener's TLS and SNI settings: a new table for
///     new connections; open connections keep the table they started with;
///   - backend names: resolved again here before the new table is served (and every
///     `backend_resolve_interval` by `BackendResolver`, whose interval a reload also changes);
///   - `handshake_timeout`, `idle_timeout`, `connect_timeout`, `max_connections`,
///     `max_connections_per_client` and `drain_timeout`: for
///     connections accepted after the reload (an open connection keeps the handshake timeout it was
///     accepted with, and adopts a new idle timeout at its next idle check, see `RuntimeSettings`;
///     lowering `max_connections` closes nothing, it refuses new connections until enough have closed);
///   - listeners, matched by address: every new address is bound (one socket per worker) before anything
///     is committed; a removed address stops accepting (its sockets are closed; connections accepted on it
///     run to completion); an address the file still lists keeps its sockets (never closed and rebound, so
///     no client is refused during a reload), also when it moved to another listener; a changed `backlog`
///     is applied to the kept sockets. Sockets inherited from systemd stay as they are.
///   - active backend health checks (`health_check_interval`): the old table's checker thread is stopped and
///     one for the new table started; addresses both tables check keep their verdicts (`BackendHealthBoard`);
///   - `workers`, `user`, `group`, the log settings and `metrics_listen` only change at a restart: each one
///     the file changes is logged as a warning, and everything else is applied.
///
///   If anything fails (the file, a certificate, binding a new address: in use, or a port below 1024 once
///   privileges are dropped), nothing changes: the old configuration keeps serving, and the error (naming
///   the listener and address) is logged and sent to systemd as the STATUS.
/// - SIGTERM/SIGINT: drain. Workers close their listening sockets and stop accepting; open connections run
///   to completion until `drainTimeout`, then the remaining ones are reset; `run` returns 0.
/// - Signals are read from a signalfd by the thread in `run` (no work in a signal handler). `run` blocks them
///   in its thread before starting the workers, which inherit the mask; call `prepareProcess()` first thing
///   in `main` so that no other thread can take them.
///
/// Thread safety: `bind`, `run` and the initialisers belong to one thread; `reload()`, `drain()`,
/// `configuration`, `listenAddresses` (after `bind`) and `openConnections` may be used from any thread.
public final class ProxyServer: ProxyServing, @unchecked Sendable {
    /// The configuration running now: the startup one, after each successful reload the file's, except the
    /// keys only a restart changes (`workers`, `user`, `group`, logs, `metrics_listen`), which keep the
    /// values the process started with.
    public var configuration: ProxyConfiguration { running.withLock { $0 } }
    private let running: Mutex<ProxyConfiguration>
    /// The control thread's copy (the workers have their own).
    private var settings: RuntimeSettings
    private let reloadConfiguration: @Sendable () throws -> ReloadedConfiguration
    private let accessLog: (@Sendable (ConnectionRecord) -> Void)?
    private let logger: Logger
    private let limiter: ConnectionLimiter
    private let control: ControlChannel
    private var router: any ConnectionRouter
    /// Every address served, in configuration order (control thread only).
    private var bindings: [ListenerBinding] = []
    private var nextBindingID = 0
    private var isBound = false
    /// Sockets bound by `bind` and not yet handed to the workers, per worker.
    private var boundSockets: [[BoundSocket]] = []
    private var workers: [Worker] = []
    private let addresses = Mutex<[String: [SocketAddress]]>([:])
    private var started = false
    /// Counters for the metrics endpoint; nil turns counting off. Set before `run()` (each worker gets its
    /// own `WorkerMetrics` when it starts).
    public var metrics: ProxyMetrics?
    /// systemd integration: inherited sockets, sd_notify states, the watchdog (inert by default).
    public let service: ServiceIntegration
    /// The active health checks of the table served now (control thread only; nil: no host has checks).
    private var healthBoard: BackendHealthBoard?
    private var healthChecker: BackendHealthChecker?
    /// What backend names resolve to, for every worker. Tests may replace it (a scripted resolver) before
    /// `run()`.
    var addressBook = BackendAddressBook()
    /// Resolves backend names again every `backend_resolve_interval` (control thread only; nil: not running).
    private var resolver: BackendResolver?

    /// A server for `configuration`, serving `router` until a reload replaces both.
    ///
    /// - Parameters:
    ///   - reloadConfiguration: reads the configuration again and compiles its table (re-reading
    ///     certificates, keys, CAs and CRLs) on SIGHUP or `reload()`; it runs on the control thread, never
    ///     on a worker. A thrown error is logged and changes nothing.
    ///   - accessLog: receives one record per connection, on the worker thread that served it; nil disables
    ///     the access log (and the cost of building records).
    public init(
        configuration: ProxyConfiguration,
        router: any ConnectionRouter,
        reloadConfiguration: @escaping @Sendable () throws -> ReloadedConfiguration,
        accessLog: (@Sendable (ConnectionRecord) -> Void)?,
        logger: Logger,
        service: ServiceIntegration = ServiceIntegration()
    ) throws {
        self.running = Mutex(configuration)
        self.settings = RuntimeSettings(configuration)
        self.router = router
        self.reloadConfiguration = reloadConfiguration
        self.accessLog = accessLog
        self.logger = logger
        self.limiter = ConnectionLimiter(maximum: configuration.maxConnections,
                                         maximumPerClient: configuration.maxConnectionsPerClient)
        self.control = try ControlChannel()
        self.service = service
    }

    /// A server for `configuration` whose reload only builds a new table: when it is a `HostTable`, the
    /// configuration it was compiled from is applied too (listeners, timeouts, limits); any other router
    /// keeps the running configuration.
    public convenience init(
        configuration: ProxyConfiguration,
        router: any ConnectionRouter,
        reload: @escaping @Sendable () throws -> any ConnectionRouter,
        accessLog: (@Sendable (ConnectionRecord) -> Void)?,
        logger: Logger,
        service: ServiceIntegration = ServiceIntegration()
    ) throws {
        try self.init(
            configuration: configuration, router: router,
            reloadConfiguration: { () throws -> ReloadedConfiguration in
                let newRouter = try reload()
                return ReloadedConfiguration(configuration: (newRouter as? HostTable)?.configuration ?? configuration, router: newRouter)
            },
            accessLog: accessLog, logger: logger, service: service)
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
            reloadConfiguration: { () throws -> ReloadedConfiguration in
                // Log files first: rotation works even when the new configuration turns out to be broken.
                logging.reopenFiles(logger: logger)
                guard let source else {
                    throw ReloadError("the configuration was not read from a file, so it cannot be read again")
                }
                let table = try HostTable.load(file: source, logger: logger)
                return ReloadedConfiguration(configuration: table.configuration, router: table)
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
        guard !isBound else { return }
        let configuration = self.configuration
        var created: [ListenerBinding] = []
        do {
            let assignment = try service.assignment(for: configuration)
            for (listenerIndex, listener) in configuration.listeners.enumerated() {
                for inherited in assignment.inherited[listenerIndex] {
                    created.append(try inheritedBinding(inherited, listener: listener))
                }
                for address in assignment.toBind[listenerIndex] {
                    created.append(try bindAddress(address, listener: listener.name, backlog: listener.backlog))
                }
            }
        } catch {
            for binding in created { binding.closeAll() }
            throw error
        }
        bindings = created
        boundSockets = (0..<settings.workers).map { worker in created.map { $0.socket(forWorker: worker) } }
        isBound = true
        publishAddresses()
    }

    /// Sockets from systemd: every worker watches the same socket (its own duplicate descriptor) with
    /// EPOLLEXCLUSIVE, since SO_REUSEPORT siblings cannot be made from an inherited socket.
    private func inheritedBinding(_ inherited: InheritedSocket, listener: ListenerConfiguration) throws -> ListenerBinding {
        var fds: [Int32] = []
        for worker in 0..<settings.workers {
            let fd = worker == 0 ? inherited.fd : portcullis_dup_cloexec(inherited.fd)
            guard fd >= 0 else {
                let error = SystemCallError.last("dup of inherited \(inherited)")
                for fd in fds { close(fd) }
                throw error
            }
            fds.append(fd)
        }
        nextBindingID += 1
        return ListenerBinding(id: nextBindingID, listener: listener.name, source: .inherited(fd: inherited.fd),
                               address: inherited.address, backlog: listener.backlog, fds: fds)
    }

    /// One `SO_REUSEPORT` socket per worker for `listenAddress` (port 0: the port the first one got).
    private func bindAddress(_ listenAddress: ListenAddress, listener: String, backlog: Int) throws -> ListenerBinding {
        guard var address = SocketAddress(numericHost: listenAddress.host, port: listenAddress.port) else {
            throw SystemCallError("listener \(listener): \(listenAddress) is not a numeric address", code: EINVAL)
        }
        var fds: [Int32] = []
        do {
            for worker in 0..<settings.workers {
                let fd = try Self.listeningSocket(address, backlog: backlog, name: listener)
                fds.append(fd)
                if worker == 0, let actual = SocketAddress.local(of: fd) { address = actual }
            }
        } catch {
            for fd in fds { close(fd) }
            throw error
        }
        nextBindingID += 1
        return ListenerBinding(id: nextBindingID, listener: listener, source: .configured(listenAddress),
                               address: address, backlog: backlog, fds: fds)
    }

    private func publishAddresses() {
        var bound: [String: [SocketAddress]] = [:]
        for binding in bindings { bound[binding.listener, default: []].append(binding.address) }
        addresses.withLock { $0 = bound }
    }

    /// `name=address,address name=address`, sorted by listener name: what the "serving" lines show.
    private var listeningSummary: String {
        listenAddresses.sorted { $0.key < $1.key }
            .map { "\($0.key)=" + $0.value.map(\.description).joined(separator: ",") }.joined(separator: " ")
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
        resolveBackendNames(of: router)
        updateResolver()
        defer { stopResolver() }
        startHealthChecks(for: router)
        defer { stopHealthChecks() }
        try startWorkers()
        let listening = listeningSummary
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
                                        limiter: limiter, accessLog: accessLog, logger: logger, control: control,
                                        addressBook: addressBook)
                worker.metrics = metrics?.attachWorker(index) { [worker] in worker.wake() }
                worker.heartbeat = service.makeHeartbeatTimer(workerIndex: index)
                worker.healthBoard = healthBoard
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
            if pending.backendAddressesChanged, drainDeadline == nil { followBackendAddresses() }
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
            let reloaded = try reloadConfiguration()
            let assignment = try service.activation.assign(to: reloaded.configuration)
            let plan = ReloadPlan(bindings: bindings, running: configuration, new: reloaded.configuration, assignment: assignment)
            // Every new address is bound before anything is committed: a failure leaves the old state whole.
            var added: [ListenerBinding] = []
            do {
                for item in plan.bind {
                    added.append(try bindForReload(item))
                }
            } catch {
                for binding in added { binding.closeAll() }
                throw error
            }
            commit(plan, added: added, router: reloaded.router, assignment: assignment)
        } catch {
            metrics?.noteReload(succeeded: false, router: nil)
            logger.error("reload failed, still serving the previous configuration: \(error)\(service.reloadFailureNote)")
            service.reloaded(error: error)
        }
    }

    // MARK: Active health checks

    /// Starts the active health checks of `router`'s hosts (at startup and at each reload), after stopping
    /// the previous table's checks: addresses both tables check keep their verdicts and counters (see
    /// `BackendHealthBoard`). Builds the board here, on the control thread, because it resolves names. A
    /// checker that cannot start leaves passive health alone in charge; that is logged, not fatal.
    private func startHealthChecks(for router: any ConnectionRouter) {
        let hadChecks = healthChecker != nil
        let board = BackendHealthBoard(router: router, connectTimeout: configuration.timeouts.backendConnect, previous: healthBoard,
                                       addressBook: addressBook)
        stopHealthChecks()
        healthBoard = board.isEmpty ? nil : board
        metrics?.updateBackendHealth(healthBoard)
        guard let healthBoard else {
            if hadChecks { logger.info("health checks stopped: no host sets health_check_interval any more") }
            return
        }
        do {
            let checker = try BackendHealthChecker(board: healthBoard, logger: logger)
            try checker.start()
            healthChecker = checker
            let summary = healthBoard.hosts.map { host in
                "\(host.name) every \(DurationText.format(.nanoseconds(Int64(clamping: host.interval)))): "
                    + host.targets.map(\.label).joined(separator: ", ")
            }.joined(separator: "; ")
            logger.info("health checks: \(summary)")
        } catch {
            logger.error("health checks cannot start, backends are checked passively only: \(error)")
        }
    }

    /// Stops the checker thread, if any (it closes the sockets of checks in flight before it exits).
    private func stopHealthChecks() {
        healthChecker?.stop()
        healthChecker = nil
    }

    // MARK: Backend names

    /// Resolves the backend names of `router`'s hosts (and of their `client_refused_backend`) here, on the
    /// control thread, before any worker serves the table: workers never wait for DNS. A name that does not
    /// resolve is a warning, not an error (it may resolve later: `BackendResolver` tries again). With
    /// `resolvingKnown` false only new names are looked up here (see `BackendAddressBook.prepare`).
    private func resolveBackendNames(of router: any ConnectionRouter, resolvingKnown: Bool = true) {
        guard let table = router as? HostTable else { return }
        var backends: [BackendAddress] = []
        for host in table.hosts {
            backends += host.backends
            backends += host.refusedClientRoute?.backends ?? []
        }
        for backend in addressBook.prepare(backends, resolvingKnown: resolvingKnown) {
            let kept = addressBook.known(backend) ?? []
            let consequence = kept.isEmpty ? "clients of its host get backend_unavailable until it does"
                : "still using \(kept.map(\.description).joined(separator: ", "))"
            logger.warning("backend \(backend) does not resolve; \(consequence)")
        }
    }

    /// Runs the thread that resolves backend names again every `backend_resolve_interval` when there is
    /// something to resolve (a configuration of numeric addresses has no such thread), at the interval now
    /// configured; stops it when the interval is 0. Routers other than a compiled table may name backends
    /// only as connections come, so they always get it.
    private func updateResolver() {
        let interval = configuration.backendResolveInterval.clampedNanoseconds
        let wanted = interval > 0 && (!(router is HostTable) || addressBook.hasNames)
        if let resolver, wanted, resolver.interval == max(1_000_000, interval) { return }
        stopResolver()
        guard wanted else { return }
        do {
            let resolver = try BackendResolver(book: addressBook, interval: interval, logger: logger) { [control] in
                control.backendAddressesChanged()
            }
            try resolver.start()
            self.resolver = resolver
        } catch {
            logger.error("backend names cannot be resolved again while running (a reload still does): \(error)")
        }
    }

    private func stopResolver() {
        resolver?.stop()
        resolver = nil
    }

    /// Backend names resolve to other addresses now: the workers' selections follow the address book by
    /// themselves; the active checks are moved to the new addresses (verdicts of addresses still there
    /// carry over) and the workers get the new board.
    private func followBackendAddresses() {
        guard healthChecker != nil else { return }
        startHealthChecks(for: router)
        for worker in workers { worker.post(.health(healthBoard)) }
    }

    /// `bindAddress` for a reload, with a failure that says what to do about it.
    private func bindForReload(_ item: ReloadPlan.NewAddress) throws -> ListenerBinding {
        do {
            return try bindAddress(item.address, listener: item.listener, backlog: item.backlog)
        } catch let error as SystemCallError {
            let reason = "listener \(item.listener): cannot bind \(item.address): \(String(cString: strerror(error.code))) (errno \(error.code))"
            guard error.code == EACCES, item.address.port != 0, item.address.port < 1024 else { throw ReloadError(reason) }
            let dropped = service.privileges.map { !$0.keepsRoot } ?? (geteuid() != 0)
            throw ReloadError(reason + "; ports below 1024 need "
                + (dropped ? "the privileges the proxy gave up after startup" : "root or CAP_NET_BIND_SERVICE")
                + ": restart the service to bind it")
        }
    }

    /// Applies a plan whose new sockets are bound: nothing here can fail.
    private func commit(_ plan: ReloadPlan, added: [ListenerBinding], router newRouter: any ConnectionRouter,
                        assignment: SocketActivation.Assignment) {
        let old = bindings
        var kept: [Int: ListenerBinding] = [:]
        let closing = Set(plan.close)
        for var binding in old where !closing.contains(binding.id) {
            if let name = plan.moves[binding.id] { binding.listener = name }
            if let backlog = plan.backlogs[binding.id] {
                // listen(2) on a listening socket changes its backlog in place (Linux): nothing is refused.
                for fd in binding.fds where Glibc.listen(fd, Int32(clamping: backlog)) != 0 {
                    logger.warning("listener \(binding.listener) \(binding.address): \(SystemCallError.last("listen with backlog \(backlog)"))")
                }
                binding.backlog = backlog
            }
            kept[binding.id] = binding
        }
        for binding in added { kept[binding.id] = binding }
        // The table in configuration order, as `bind` builds it.
        var ordered: [ListenerBinding] = []
        for index in plan.configuration.listeners.indices {
            for socket in assignment.inherited[index] {
                if let binding = kept.values.first(where: { $0.source == .inherited(fd: socket.fd) }) { ordered.append(binding) }
            }
            for address in assignment.toBind[index] {
                if let binding = kept.values.first(where: { $0.source == .configured(address) }) { ordered.append(binding) }
            }
        }
        bindings = ordered

        let newSettings = RuntimeSettings(plan.configuration)
        let raisedLimit = newSettings.maxConnections > settings.maxConnections
        settings = newSettings
        limiter.setMaximum(newSettings.maxConnections, perClient: plan.configuration.maxConnectionsPerClient)
        // More connections need more descriptors: raise the soft limit again (never lowered).
        if raisedLimit { DescriptorLimit.raise(for: plan.configuration, logger: logger) }
        router = newRouter
        running.withLock { $0 = plan.configuration }
        // Names the running table already had keep their addresses here and are looked up again at once on
        // the resolver's thread: a reload waits for DNS only for new names.
        resolveBackendNames(of: newRouter, resolvingKnown: configuration.backendResolveInterval == .zero)
        updateResolver()
        resolver?.refreshNow()
        startHealthChecks(for: newRouter)
        for worker in workers {
            worker.post(.reload(WorkerReload(
                router: newRouter, settings: newSettings,
                open: added.map { $0.socket(forWorker: worker.index) },
                close: closing, moves: plan.moves, health: healthBoard)))
        }
        publishAddresses()

        for change in plan.restartOnly { logger.warning("reload: \(change)") }
        if !plan.keepsListeners {
            var changes: [String] = []
            if !added.isEmpty { changes.append("added " + added.map { "\($0.listener)=\($0.address)" }.joined(separator: " ")) }
            let removed = old.filter { closing.contains($0.id) }
            if !removed.isEmpty { changes.append("removed " + removed.map { "\($0.listener)=\($0.address)" }.joined(separator: " ")) }
            let moved = old.compactMap { binding in plan.moves[binding.id].map { "\(binding.address) from \(binding.listener) to \($0)" } }
            if !moved.isEmpty { changes.append("moved " + moved.joined(separator: ", ")) }
            let relistened = ordered.filter { plan.backlogs[$0.id] != nil }.map { "\($0.listener)=\($0.address) backlog \($0.backlog)" }
            if !relistened.isEmpty { changes.append("changed " + relistened.joined(separator: ", ")) }
            logger.info("reload: listeners \(changes.joined(separator: "; "))")
        }
        metrics?.noteReload(succeeded: true, router: newRouter)
        logger.info("configuration reloaded; new connections use it, open ones keep theirs")
        logger.info("serving with \(settings.workers) worker(s), max_connections \(settings.maxConnections): \(listeningSummary)")
        service.reloaded(error: nil)
    }
}

/// What a reload read: the new configuration and the table compiled from it.
public struct ReloadedConfiguration: Sendable {
    public var configuration: ProxyConfiguration
    public var router: any ConnectionRouter

    public init(configuration: ProxyConfiguration, router: any ConnectionRouter) {
        self.configuration = configuration
        self.router = router
    }
}

/// Why a reload could not even start.
public struct ReloadError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
