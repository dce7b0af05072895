internal import CPortcullisSystem
internal import Glibc
import Logging
import OpenSSLSSL
import Synchronization

/// Commands from the control thread to a worker (reload, drain, stop). Rare, so a mutex-guarded queue plus
/// an eventfd wake-up is plenty; nothing on a connection's path touches it.
enum WorkerMessage: Sendable {
    /// Serve new connections from this table and these settings, with these listening sockets; open
    /// connections keep their table.
    case reload(WorkerReload)
    /// Stop accepting and close the listening sockets; exit once the last connection has closed.
    case drain
    /// Reset every open connection and exit now (the drain deadline passed).
    case stop
    /// The active checks now check these addresses (a backend name resolves to others): rebuild the
    /// backend selections with this board.
    case health(BackendHealthBoard?)
}

/// What a reload changes in one worker. The control thread has bound every new socket before sending it, so
/// applying it cannot fail for want of an address.
struct WorkerReload: Sendable {
    /// The table new connections are served from.
    var router: any ConnectionRouter
    /// Timeouts for new connections (see `RuntimeSettings` for what open connections do).
    var settings: RuntimeSettings
    /// This worker's sockets for addresses the reload added: accept on them from now on.
    var open: [BoundSocket] = []
    /// Bindings the reload removed: close this worker's sockets for them (connections already accepted on
    /// them keep running).
    var close: Set<Int> = []
    /// Bindings whose address now belongs to a listener of another name: the sockets stay, their
    /// connections are served as that listener's.
    var moves: [Int: String] = [:]
    /// The active health checks' verdicts for the new table (nil: no host has checks).
    var health: BackendHealthBoard?
}

/// One worker thread: its own event loop, its own `SO_REUSEPORT` listening sockets, its own buffer pool and
/// its own connections. Nothing here is shared with another worker except the `max_connections` counter (an
/// atomic) and the immutable host table; everything else is confined to the worker's thread.
final class Worker: LoopEventHandler, @unchecked Sendable {
    enum State { case running, draining, stopped }

    let index: Int
    /// Timeouts for new connections; replaced by a reload (confined to this worker's thread).
    private(set) var settings: RuntimeSettings
    let loop: EventLoop
    let pool = BufferPool()
    let accessLog: (@Sendable (ConnectionRecord) -> Void)?
    /// This worker's own counters (nil: metrics off). Set before `start()`; only this thread writes them.
    var metrics: WorkerMetrics?
    private let limiter: ConnectionLimiter
    private let logger: Logger
    private let control: ControlChannel

    /// The table new connections are served from. Each listening socket holds its listener's context from
    /// it (looked up once per reload, not per accept).
    private var router: any ConnectionRouter
    private var boundSockets: [BoundSocket]
    private var listeners: [ListenerSocket] = []
    private(set) var connections: [ProxyConnection] = []
    private let mailbox = Mutex<[WorkerMessage]>([])
    private let wakeFD: Int32
    private(set) var state = State.running
    private var connectionCounter: UInt64 = 0
    /// Backend selection per host of the current table (hosts are immutable; cleared on reload), with the
    /// address book's version it was built from (rebuilt when a backend name's addresses change).
    private var selectors: [ObjectIdentifier: (selector: BackendSelector, version: UInt64)] = [:]
    /// What backend names resolve to; never resolved on this thread for a compiled table.
    private let addressBook: BackendAddressBook
    /// The latest slots per host name, handed to the next table's selector for the same host so a reload
    /// keeps passive health and connection counts.
    private var slotsByHost: [String: [BackendSlot]] = [:]
    /// The active checks' verdicts for the current table (nil: no host has checks). Set before `start()`,
    /// then replaced by reloads.
    var healthBoard: BackendHealthBoard?
    /// A descriptor kept open to be closed when `accept` fails with EMFILE, so the pending connection can be
    /// accepted and closed instead of waking the loop forever.
    private var reserveFD: Int32 = -1
    private var refusedSinceLog = 0
    private var lastRefusalLog: UInt64 = 0
    private var thread: SystemThread?
    /// Stamps this worker's watchdog heartbeat from the loop (nil when no watchdog runs). Set before `start`.
    var heartbeat: HeartbeatTimer?
    /// Returns freed memory to the system after a large fall in this worker's connection count.
    private let trimmer: MemoryTrimmer

    /// Accepts per readiness event before yielding to other events (fairness under a connection flood).
    static let acceptBatchLimit = 64
    /// How long accepting pauses when descriptors are exhausted and no reserve descriptor is left.
    static let acceptPauseNanoseconds: UInt64 = 100_000_000

    init(index: Int, settings: RuntimeSettings, router: any ConnectionRouter, sockets: [BoundSocket],
         limiter: ConnectionLimiter, accessLog: (@Sendable (ConnectionRecord) -> Void)?, logger: Logger,
         control: ControlChannel, addressBook: BackendAddressBook = BackendAddressBook()) throws {
        self.index = index
        self.addressBook = addressBook
        self.settings = settings
        let loop = try EventLoop()
        self.loop = loop
        self.trimmer = MemoryTrimmer(loop: loop)
        self.router = router
        self.boundSockets = sockets
        self.limiter = limiter
        self.accessLog = accessLog
        self.logger = logger
        self.control = control
        let fd = portcullis_eventfd_create()
        guard fd >= 0 else { throw SystemCallError.last("eventfd") }
        self.wakeFD = fd
    }

    deinit {
        close(wakeFD)
        if reserveFD >= 0 { close(reserveFD) }
        for socket in boundSockets { close(socket.fd) }
        // Sockets of a reload that arrived after the loop exited are this worker's to close.
        for message in mailbox.withLock({ $0 }) {
            if case .reload(let reload) = message { for socket in reload.open { close(socket.fd) } }
        }
    }

    // MARK: Thread

    /// Starts the worker's thread.
    func start() throws {
        thread = try SystemThread { [self] in threadMain() }
    }

    /// Waits for the thread to exit.
    func join() {
        thread?.join()
    }

    /// Wakes the loop without a command (the metrics endpoint's liveness probe). Safe from any thread.
    func wake() {
        portcullis_eventfd_signal(wakeFD)
    }

    /// Queues a command and wakes the worker. Safe from any thread.
    func post(_ message: WorkerMessage) {
        mailbox.withLock { $0.append(message) }
        portcullis_eventfd_signal(wakeFD)
    }

    private func threadMain() {
        if prepareLoop() {
            while state != .stopped {
                loop.runOnce()
            }
        }
        finishLoop()
        control.workerFinished()
    }

    /// Registers the wake-up eventfd and the listening sockets with the loop (on the worker's own thread, or
    /// on a test's thread that then drives `loop.runOnce` itself). False if the loop cannot be set up.
    func prepareLoop() -> Bool {
        do {
            _ = try loop.register(wakeFD, target: .handler(self), events: EventLoop.readEvents)
            // One at a time, so that after a failure `deinit` closes only the sockets not yet registered.
            while let socket = boundSockets.first {
                try startListening(socket)
                boundSockets.removeFirst()
            }
        } catch {
            logger.critical("worker \(index) could not start its event loop: \(error)")
            state = .stopped
            return false
        }
        reserveFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        heartbeat?.start(on: loop)
        return true
    }

    /// Closes the listening sockets and resets whatever connection is still open.
    func finishLoop() {
        for listener in listeners { listener.close(loop: loop) }
        while let connection = connections.last { connection.finish(.drainDeadline) }
        state = .stopped
        heartbeat?.stop()
        trimmer.stop()
    }

    // MARK: Commands

    /// The eventfd fired: run the queued commands.
    func handleEvent(_ flags: UInt32) {
        _ = portcullis_eventfd_drain(wakeFD)
        metrics?.answerPings()
        let messages = mailbox.withLock { queue -> [WorkerMessage] in
            let taken = queue
            queue.removeAll()
            return taken
        }
        for message in messages {
            switch message {
            case .reload(let reload):
                apply(reload)
            case .health(let board):
                healthBoard = board
                selectors.removeAll()
            case .drain:
                guard state == .running else { continue }
                state = .draining
                for listener in listeners { listener.close(loop: loop) }
                if connections.isEmpty { state = .stopped }
            case .stop:
                while let connection = connections.last { connection.finish(.drainDeadline) }
                state = .stopped
            }
        }
    }

    /// Registers `socket` with the loop and starts accepting on it. On failure the socket is left to the
    /// caller.
    private func startListening(_ socket: BoundSocket) throws {
        let listener = ListenerSocket(worker: self, socket: socket, context: router.handshakeContext(forListener: socket.listener))
        let events = socket.shared ? EventLoop.readEvents | portcullis_EPOLLEXCLUSIVE : EventLoop.readEvents
        listener.token = try loop.register(socket.fd, target: .handler(listener), events: events)
        listeners.append(listener)
    }

    /// A reload: close the removed sockets, move and add the others, then serve new connections from the
    /// new table and settings. While draining, the new sockets are closed at once (drain closed the rest).
    private func apply(_ reload: WorkerReload) {
        router = reload.router
        settings = reload.settings
        healthBoard = reload.health
        selectors.removeAll()
        guard state == .running else {
            for socket in reload.open { close(socket.fd) }
            return
        }
        if !reload.close.isEmpty {
            listeners.removeAll { listener in
                guard reload.close.contains(listener.bindingID) else { return false }
                listener.close(loop: loop)
                return true
            }
        }
        for listener in listeners {
            if let name = reload.moves[listener.bindingID] { listener.listenerName = name }
            listener.context = router.handshakeContext(forListener: listener.listenerName)
        }
        for socket in reload.open {
            do {
                try startListening(socket)
            } catch {
                // The other workers' sockets for the same address still accept; this one would only queue.
                close(socket.fd)
                logger.error("worker \(index): cannot accept on listener \(socket.listener) \(socket.address): \(error)")
            }
        }
    }

    // MARK: Accepting

    /// Accepts until the queue is empty, or up to `acceptBatchLimit` connections (then continues on the next
    /// loop iteration so established connections are not starved).
    func acceptBatch(_ listener: ListenerSocket) {
        guard state == .running, !listener.paused, listener.fd >= 0 else { return }
        for _ in 0..<Self.acceptBatchLimit {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = portcullis_accept_nonblocking(listener.fd, &storage, &length)
            if fd >= 0 {
                accepted(fd, address: SocketAddress(storage: storage, length: length), listener: listener)
                continue
            }
            let code = errno
            switch code {
            case EAGAIN, EWOULDBLOCK:
                return
            case EINTR, ECONNABORTED, EPROTO, EPERM:
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                if !shedOneConnection(listener) {
                    pause(listener, because: SystemCallError("accept", code: code))
                    return
                }
            default:
                pause(listener, because: SystemCallError("accept", code: code))
                return
            }
        }
        loop.deferCall(listener)
    }

    /// Out of descriptors: close the reserve descriptor, accept one pending connection and close it at once
    /// (the client sees a reset instead of hanging in the backlog), then take the reserve back. Returns
    /// false when that is not possible; the caller then pauses accepting briefly.
    private func shedOneConnection(_ listener: ListenerSocket) -> Bool {
        guard reserveFD >= 0 else { return false }
        close(reserveFD)
        reserveFD = -1
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = portcullis_accept_nonblocking(listener.fd, &storage, &length)
        if fd >= 0 {
            _ = portcullis_set_linger_zero(fd)
            close(fd)
            noteRefusal(reason: "out of file descriptors")
        }
        reserveFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        return fd >= 0 && reserveFD >= 0
    }

    private func pause(_ listener: ListenerSocket, because error: SystemCallError) {
        listener.paused = true
        loop.timers.schedule(listener, at: loop.now &+ Self.acceptPauseNanoseconds)
        logger.warning("worker \(index): accepting paused for 100 ms: \(error)")
    }

    /// Past `max_connections`: reset at once, no handshake, no allocation.
    private func refuse(_ fd: Int32) {
        _ = portcullis_set_linger_zero(fd)
        close(fd)
        noteRefusal(reason: "max_connections (\(limiter.maximum)) reached")
    }

    /// Counts refusals and logs them at most once a second per worker, so a flood cannot flood the log (nor
    /// cost a formatted reason per refusal).
    private func noteRefusal(reason: @autoclosure () -> String) {
        metrics?.connectionRefused()
        refusedSinceLog += 1
        if loop.now &- lastRefusalLog >= 1_000_000_000 {
            logger.warning("worker \(index): refused \(refusedSinceLog) connection(s): \(reason())")
            refusedSinceLog = 0
            lastRefusalLog = loop.now
        }
    }

    private func accepted(_ fd: Int32, address: SocketAddress, listener: ListenerSocket) {
        guard limiter.tryAcquire() else {
            refuse(fd)
            return
        }
        let proxyHeaderPolicy = settings.proxyHeaderPolicies[listener.listenerName]
        var clientSlots: ClientConnectionCounts.Slots?
        // Behind a load balancer every connection comes from the balancer: the client is counted once its
        // PROXY header has named it (`admitClient`).
        if proxyHeaderPolicy == nil {
            switch limiter.tryAcquire(client: address) {
            case .counted(let slots): clientSlots = slots
            case .unlimited: break
            case .refused(let maximum):
                limiter.release()
                _ = portcullis_set_linger_zero(fd)
                close(fd)
                noteRefusal(reason: "max_connections_per_client (\(maximum)) reached by \(address.hostText)")
                return
            }
        }
        func giveBack() {
            limiter.release()
            if let clientSlots { limiter.release(client: clientSlots) }
        }
        guard let context = listener.context else {
            giveBack()
            close(fd)
            noteRefusal(reason: "listener \(listener.listenerName) serves no host")
            return
        }
        _ = portcullis_set_nodelay(fd)
        let tls: Connection
        do {
            tls = try Connection(context: context, socket: fd)
        } catch {
            giveBack()
            close(fd)
            logger.error("worker \(index): cannot create a TLS connection: \(error)")
            return
        }
        // Idle connections give their record buffers back to OpenSSL's allocator (about 34 KiB each).
        _ = tls.setMode(SSL.MODE_RELEASE_BUFFERS)
        tls.setAcceptState()
        connectionCounter &+= 1
        let connection = ProxyConnection(
            worker: self, router: router, listenerName: listener.listenerName,
            id: UInt64(index) << 48 | connectionCounter, clientFD: fd, clientAddress: address, tls: tls, now: loop.now,
            proxyHeaderPolicy: proxyHeaderPolicy
        )
        connection.clientSlots = clientSlots
        do {
            connection.clientToken = try loop.register(fd, target: .client(connection))
        } catch {
            giveBack()
            close(fd)
            logger.error("worker \(index): cannot register a connection: \(error)")
            return
        }
        connection.listIndex = connections.count
        connections.append(connection)
        trimmer.opened(count: connections.count)
        metrics?.connectionAccepted()
        connection.start()
    }

    // MARK: Connection support

    /// Counts `connection` against `max_connections_per_client` by its client address (for `accept_proxy`
    /// listeners, once the PROXY header named the client). Returns the maximum when the client is over it
    /// (the connection must then finish), nil when admitted.
    func admitClient(_ connection: ProxyConnection) -> Int? {
        switch limiter.tryAcquire(client: connection.clientAddress) {
        case .counted(let slots):
            connection.clientSlots = slots
            return nil
        case .unlimited:
            return nil
        case .refused(let maximum):
            return maximum
        }
    }

    /// Called by a connection once it has closed its sockets.
    func connectionFinished(_ connection: ProxyConnection, record: ConnectionRecord?) {
        let position = connection.listIndex
        if position >= 0, position < connections.count, connections[position] === connection {
            let last = connections.removeLast()
            if position < connections.count {
                connections[position] = last
                last.listIndex = position
            }
            connection.listIndex = -1
            limiter.release()
            if let slots = connection.clientSlots { limiter.release(client: slots) }
            connection.clientSlots = nil
            trimmer.closed(count: connections.count)
        }
        if let record, let accessLog { accessLog(record) }
        if state == .draining, connections.isEmpty { state = .stopped }
    }

    // MARK: Backend selection

    /// The backend selection of `host`: its addresses (from the address book: names are resolved on other
    /// threads), with this worker's passive health and load, and the active checks' verdicts. Rebuilt when
    /// the book's version changed; slots of addresses still there carry over.
    func backendSelector(for host: any RoutedHost) -> BackendSelector {
        let key = ObjectIdentifier(host)
        let version = addressBook.version
        if let cached = selectors[key], cached.version == version { return cached.selector }
        let checked = healthBoard?.targets(forHost: host.name) ?? []
        // A host's refused-client route shares its name: its slots are kept apart.
        let slotsKey = host is RefusedClientRoute ? host.name + "\u{0}refused" : host.name
        let previous = slotsByHost[slotsKey] ?? []
        var slots: [BackendSlot] = []
        var weights: [Int] = []
        for (position, backend) in host.backends.enumerated() {
            let label = backend.description
            for address in addressBook.addresses(of: backend) {
                // Every address a name resolves to carries the entry's weight.
                weights.append(host.backendHealth.weight(ofBackendAt: position))
                let health = checked.first { $0.address == address }
                // An address listed twice (a poor man's weight) is one slot: one health, one connection count.
                if let slot = slots.first(where: { $0.address == address && $0.label == label })
                    ?? previous.first(where: { $0.address == address && $0.label == label }) {
                    slot.health = health
                    slots.append(slot)
                } else {
                    slots.append(BackendSlot(address: address, label: label, health: health))
                }
            }
        }
        let selector = BackendSelector(hostName: host.name, slots: slots, configuration: host.backendHealth, start: index,
                                       weights: weights)
        selectors[key] = (selector, version)
        slotsByHost[slotsKey] = slots
        return selector
    }

    /// A connect to `selector.slots[slot]` failed: passive health, and a log line when the address goes down.
    ///
    /// Log levels: every worker keeps its own passive state, so each worker reports an outage once: a
    /// warning when the address first reaches `backend_max_fails`, info when a connect succeeds again. A
    /// retry after `backend_fail_timeout` that fails again is logged at debug only, or a long outage would
    /// log a warning per worker every fail timeout.
    func backendConnectFailed(_ selector: BackendSelector, slot: Int, reason: String) {
        let backend = selector.slots[slot]
        switch selector.connectFailed(slot, now: loop.now) {
        case .down:
            logger.warning("worker \(index): backend \(backend.label) of host \(selector.hostName) is down for \(DurationText.format(.nanoseconds(Int64(clamping: selector.failTimeout)))) after \(selector.maxFails) failed connect\(selector.maxFails == 1 ? "" : "s"): \(reason)")
        case .stillDown:
            logger.debug("worker \(index): backend \(backend.label) of host \(selector.hostName) is still down: \(reason)")
        case .up, .none:
            break
        }
    }

    /// A connect to `selector.slots[slot]` succeeded.
    func backendConnectSucceeded(_ selector: BackendSelector, slot: Int) {
        if selector.connectSucceeded(slot) == .up {
            logger.info("worker \(index): backend \(selector.slots[slot].label) of host \(selector.hostName) is up again")
        }
    }
}
