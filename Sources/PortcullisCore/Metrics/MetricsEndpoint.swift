internal import CPortcullisSystem
internal import Glibc
public import Logging

/// The Prometheus endpoint: a tiny HTTP/1.1 server on its own address and its own thread, with its own
/// `poll` loop. It answers `GET /metrics` (text format 0.0.4), `GET /healthz` (200 `ok` when every worker's
/// event loop answers a wake-up within a second; 503 while draining, so load balancers stop sending, and when
/// a loop is stuck) and 404 for anything else; HEAD works too.
///
/// It never touches a worker's state: the scrape reads the workers' atomic counters, and the liveness probe
/// only signals a worker's eventfd. Limits keep it cheap whatever connects: at most `maximumClients` open
/// connections (more wait in the backlog), request heads up to 8 KiB, `requestTimeout` per connection from
/// accept to the last byte sent, one request per connection (`Connection: close`).
public final class MetricsEndpoint: @unchecked Sendable {
    /// The bound address (the port resolved when the configuration said 0).
    public let address: SocketAddress
    private let listenFD: Int32
    private let stopFD: Int32
    private let metrics: ProxyMetrics
    private let logger: Logger
    private var thread: SystemThread?

    static let maximumClients = 16
    static let requestTimeout: UInt64 = 5_000_000_000

    private struct Client {
        let fd: Int32
        var received: [UInt8] = []
        var response: [UInt8] = []
        var sent = 0
        var responding = false
        let deadline: UInt64
    }

    /// Binds `listen` (no `SO_REUSEPORT`: a second process must not share the port silently).
    public init(listen: ListenAddress, metrics: ProxyMetrics, logger: Logger) throws {
        guard var address = SocketAddress(numericHost: listen.host, port: listen.port) else {
            throw SystemCallError("metrics_listen \(listen) is not a numeric address", code: EINVAL)
        }
        let fd = portcullis_socket_stream(address.domain)
        guard fd >= 0 else { throw SystemCallError.last("socket for metrics_listen \(listen)") }
        _ = portcullis_set_reuseaddr(fd)
        if address.family == .ipv6 { _ = portcullis_set_v6only(fd, 1) }
        guard address.withSockaddr({ Glibc.bind(fd, $0, $1) }) == 0, Glibc.listen(fd, 64) == 0 else {
            let error = SystemCallError.last("bind metrics_listen \(listen)")
            close(fd)
            throw error
        }
        if let actual = SocketAddress.local(of: fd) { address = actual }
        let stop = portcullis_eventfd_create()
        guard stop >= 0 else {
            close(fd)
            throw SystemCallError.last("eventfd")
        }
        self.address = address
        self.listenFD = fd
        self.stopFD = stop
        self.metrics = metrics
        self.logger = logger
    }

    deinit {
        close(listenFD)
        close(stopFD)
    }

    /// Starts serving on a new thread.
    public func start() throws {
        precondition(thread == nil, "MetricsEndpoint.start may only be called once")
        thread = try SystemThread { [self] in serve() }
        logger.info("metrics endpoint on http://\(address)/metrics")
    }

    /// Stops serving and waits for the thread (open requests are dropped).
    public func stop() {
        guard let thread else { return }
        portcullis_eventfd_signal(stopFD)
        thread.join()
        self.thread = nil
    }

    // MARK: The loop

    private func serve() {
        var clients: [Client] = []
        var descriptors: [pollfd] = []
        while true {
            descriptors.removeAll(keepingCapacity: true)
            descriptors.append(pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0))
            let accepting = clients.count < Self.maximumClients
            descriptors.append(pollfd(fd: accepting ? listenFD : -1, events: Int16(POLLIN), revents: 0))
            for client in clients {
                descriptors.append(pollfd(fd: client.fd, events: Int16(client.responding ? POLLOUT : POLLIN), revents: 0))
            }
            var timeout: Int32 = -1
            if let earliest = clients.map(\.deadline).min() {
                let now = MonotonicClock.now()
                timeout = earliest > now ? Int32(clamping: (earliest - now + 999_999) / 1_000_000) : 0
            }
            let ready = poll(&descriptors, nfds_t(descriptors.count), timeout)
            if ready < 0, errno != EINTR {
                logger.error("metrics endpoint stopped: \(SystemCallError.last("poll"))")
                break
            }
            if descriptors[0].revents != 0 { break }
            let now = MonotonicClock.now()
            var index = clients.count - 1
            while index >= 0 {
                let events = descriptors[index + 2].revents
                if events != 0 || clients[index].deadline <= now {
                    if !progress(&clients[index], events: events, now: now) {
                        close(clients[index].fd)
                        clients.remove(at: index)
                    }
                }
                index -= 1
            }
            if accepting, descriptors[1].revents != 0 {
                while clients.count < Self.maximumClients {
                    var storage = sockaddr_storage()
                    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                    let fd = portcullis_accept_nonblocking(listenFD, &storage, &length)
                    guard fd >= 0 else { break }
                    clients.append(Client(fd: fd, deadline: MonotonicClock.now() &+ Self.requestTimeout))
                }
            }
        }
        for client in clients { close(client.fd) }
    }

    /// Reads the request or writes the response; false when the connection is finished (or failed, or
    /// timed out) and must be closed.
    private func progress(_ client: inout Client, events: Int16, now: UInt64) -> Bool {
        if client.deadline <= now { return false }
        if events & Int16(POLLERR | POLLNVAL) != 0 { return false }
        if !client.responding {
            var chunk = [UInt8](repeating: 0, count: 2048)
            let count = chunk.withUnsafeMutableBytes { portcullis_recv(client.fd, $0.baseAddress, UInt($0.count)) }
            if count == 0 { return false }
            if count < 0 { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR }
            client.received += chunk[0..<count]
            let response: MetricsRequest.Response
            switch MetricsRequest.parse(client.received) {
            case .incomplete:
                return true
            case .invalid(let answer):
                response = answer
            case .request(let method, let path):
                response = MetricsRequest.respond(
                    method: method, path: path, metrics: { metrics.renderText() }, health: { metrics.health() })
            }
            client.response = response.bytes
            client.responding = true
            client.received = []
        }
        while client.sent < client.response.count {
            let count = client.response.withUnsafeBytes {
                portcullis_send(client.fd, $0.baseAddress! + client.sent, UInt($0.count - client.sent))
            }
            if count > 0 {
                client.sent += count
            } else if count < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                return true
            } else {
                return false
            }
        }
        // Everything sent: a FIN, then close (the client reads to EOF). Unread bytes at close would make
        // the kernel send a reset that can discard the response, so drop whatever else the client sent.
        _ = shutdown(client.fd, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<16 {
            let count = scratch.withUnsafeMutableBytes { portcullis_recv(client.fd, $0.baseAddress, UInt($0.count)) }
            if count <= 0 { break }
        }
        return false
    }
}

extension MetricsEndpoint {
    /// What `portcullis run` does: when the configuration sets `metrics_listen`, attaches a `ProxyMetrics` to
    /// `server` (before its `run()`), fills in `table`'s certificates, binds the address and starts serving.
    /// Returns nil when metrics are off.
    public static func startIfConfigured(server: ProxyServer, table: HostTable, logger: Logger) throws -> MetricsEndpoint? {
        guard let listen = server.configuration.metricsListen else { return nil }
        let metrics = ProxyMetrics(workers: server.configuration.workers)
        metrics.updateCertificates(from: table)
        let endpoint = try MetricsEndpoint(listen: listen, metrics: metrics, logger: logger)
        server.metrics = metrics
        try endpoint.start()
        return endpoint
    }
}
