internal import Glibc
import OpenSSLSSL
import Synchronization

/// The proxy's metrics: one `WorkerMetrics` per worker (written only by that worker), the reload counters
/// and the certificate inventory (written by the control thread), and the scrape that sums them into the
/// Prometheus text format. See README.md ("Metrics") for every series.
///
/// ```swift
/// let metrics = ProxyMetrics(workers: configuration.workers)
/// metrics.updateCertificates(from: table)
/// server.metrics = metrics          // before server.run(): each worker gets its own WorkerMetrics
/// ```
///
/// Thread safety: `renderText`, `snapshot`, `health` and `workersAlive` from any thread (the metrics
/// endpoint's); `noteReload`, `noteDraining` and `updateCertificates` from the control thread.
public final class ProxyMetrics: Sendable {
    let workerMetrics: [WorkerMetrics]
    /// Wakes worker `i`'s loop (set when the worker starts; nil before).
    private let wakers: Mutex<[(@Sendable () -> Void)?]>
    private let reloadsSucceeded = MetricCounter()
    private let reloadsFailed = MetricCounter()
    private let certificates = Mutex<[CertificateExpiry]>([])
    private let draining = Atomic<Bool>(false)
    private let ocspResponses = Mutex<[OCSPResponseExpiry]>([])
    /// The active health checks of the table served now (nil: no host has checks).
    private let backendHealth = Mutex<BackendHealthBoard?>(nil)
    private let buildLabels: [(String, String)]

    /// Metrics for a server with `workers` workers.
    public init(workers: Int) {
        let count = max(1, workers)
        workerMetrics = (0..<count).map { WorkerMetrics(index: $0) }
        wakers = Mutex(Array(repeating: nil, count: count))
        buildLabels = [
            ("version", PortcullisVersion.string),
            ("openssl", String(decoding: SSL.openSSLVersion(SSL.OPENSSL_VERSION), as: UTF8.self)),
        ]
    }

    /// The counters worker `index` writes, and how to wake its loop for the liveness probe. Called by
    /// `ProxyServer` before it starts the worker's thread.
    func attachWorker(_ index: Int, wake: @escaping @Sendable () -> Void) -> WorkerMetrics? {
        guard workerMetrics.indices.contains(index) else { return nil }
        wakers.withLock { $0[index] = wake }
        return workerMetrics[index]
    }

    /// Counts a reload; after a successful one the certificate inventory is read from the new table.
    public func noteReload(succeeded: Bool, router: (any ConnectionRouter)?) {
        if succeeded {
            reloadsSucceeded.add()
            if let table = router as? HostTable { updateCertificates(from: table) }
        } else {
            reloadsFailed.add()
        }
    }

    /// Replaces the certificate inventory with the certificates `table` serves, and the OCSP response
    /// inventory with the responses it staples.
    public func updateCertificates(from table: HostTable) {
        let inventory = CertificateExpiry.inventory(of: table)
        certificates.withLock { $0 = inventory }
        let responses = OCSPResponseExpiry.inventory(of: table)
        ocspResponses.withLock { $0 = responses }
    }

    /// Replaces the board whose verdicts and check counters the scrape reports (`ProxyServer`, at startup
    /// and at each reload).
    func updateBackendHealth(_ board: BackendHealthBoard?) {
        backendHealth.withLock { $0 = board }
    }

    // MARK: Liveness

    /// Marks the server as draining (SIGTERM): `/healthz` answers 503 from now on, so a load balancer or
    /// orchestrator stops sending new clients while open connections finish. Called by `ProxyServer`.
    public func noteDraining() {
        draining.store(true, ordering: .releasing)
    }

    /// The `/healthz` answer: draining first (a drained worker has exited, but that is not a fault), then
    /// whether every worker loop answers (`workersAlive`).
    public func health(timeout: Duration = .seconds(1)) -> ProxyHealth {
        if draining.load(ordering: .acquiring) { return .draining }
        return workersAlive(timeout: timeout) ? .serving : .unresponsive
    }

    /// True when every worker has started and its event loop handled a wake-up within `timeout`: the
    /// `/healthz` answer. A worker that has exited (drained) or whose loop is stuck makes it false.
    public func workersAlive(timeout: Duration = .seconds(1)) -> Bool {
        let wakers = self.wakers.withLock { $0 }
        var targets: [UInt64] = []
        for (index, wake) in wakers.enumerated() {
            guard let wake else { return false }
            let (_, target) = workerMetrics[index].pingsSent.wrappingAdd(1, ordering: .acquiringAndReleasing)
            targets.append(target)
            wake()
        }
        let deadline = MonotonicClock.now() &+ UInt64(timeout.clampedNanoseconds)
        while true {
            let answered = workerMetrics.indices.allSatisfy {
                workerMetrics[$0].pingsAnswered.load(ordering: .acquiring) >= targets[$0]
            }
            if answered { return true }
            if MonotonicClock.now() >= deadline { return false }
            usleep(1000)
        }
    }

    // MARK: Scrape

    /// Every counter, summed over the workers.
    func snapshot() -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        for worker in workerMetrics { snapshot.add(worker) }
        snapshot.reloadsSucceeded = reloadsSucceeded.value
        snapshot.reloadsFailed = reloadsFailed.value
        snapshot.certificates = certificates.withLock { $0 }
        snapshot.ocspResponses = ocspResponses.withLock { $0 }
        let board = backendHealth.withLock { $0 }
        snapshot.backendHealth = (board?.allTargets ?? []).map(BackendHealthSample.init)
        return snapshot
    }

    /// The Prometheus text exposition (format 0.0.4) of every series.
    public func renderText() -> String {
        Self.render(snapshot(), buildLabels: buildLabels)
    }

    static func render(_ snapshot: MetricsSnapshot, buildLabels: [(String, String)]) -> String {
        var out = PrometheusTextWriter()
        out.family("portcullis_build_info", .gauge, help: "Always 1; the labels say which Portcullis and OpenSSL are running.")
        out.sample("portcullis_build_info", buildLabels, formatted: "1")

        out.family("portcullis_connections_accepted_total", .counter, help: "TCP connections accepted (before the TLS handshake).")
        out.sample("portcullis_connections_accepted_total", snapshot.accepted)
        out.family("portcullis_connections_refused_total", .counter,
                   help: "Connections closed right after accept, without a handshake (max_connections, no descriptors, listener without host).")
        out.sample("portcullis_connections_refused_total", snapshot.refused)
        out.family("portcullis_connections_active", .gauge, help: "Client connections open now, in any phase (handshake included).")
        out.sample("portcullis_connections_active", snapshot.open)
        out.family("portcullis_connections_closed_total", .counter, help: "Closed client connections by close reason (the access log's close= code).")
        for code in WorkerMetrics.closeCodes {
            out.sample("portcullis_connections_closed_total", ["reason": code], snapshot.closes[code] ?? 0)
        }

        let hosts = snapshot.hosts.sorted { $0.key < $1.key }
        out.family("portcullis_connections_open", .gauge, help: "Connections admitted to the host and still open.")
        for (host, values) in hosts { out.sample("portcullis_connections_open", ["host": host], values.open) }
        out.family("portcullis_connections_total", .counter, help: "Connections admitted to the host (handshake completed, client policy passed).")
        for (host, values) in hosts { out.sample("portcullis_connections_total", ["host": host], values.opened) }
        out.family("portcullis_resumptions_total", .counter, help: "Admitted connections whose TLS session was resumed (session ID or ticket).")
        for (host, values) in hosts { out.sample("portcullis_resumptions_total", ["host": host], values.resumed) }
        out.family("portcullis_bytes_in_total", .counter, help: "Plaintext bytes received from clients and forwarded to the host's backends.")
        for (host, values) in hosts { out.sample("portcullis_bytes_in_total", ["host": host], values.bytesIn) }
        out.family("portcullis_bytes_out_total", .counter, help: "Plaintext bytes received from the host's backends and sent to clients.")
        for (host, values) in hosts { out.sample("portcullis_bytes_out_total", ["host": host], values.bytesOut) }
        out.family("portcullis_ocsp_stapled_total", .counter,
                   help: "Admitted connections whose handshake stapled an OCSP response, counted when they close.")
        for (host, values) in hosts { out.sample("portcullis_ocsp_stapled_total", ["host": host], values.ocspStapled) }
        out.family("portcullis_clients_redirected_total", .counter,
                   help: "Clients whose certificate matched no allow-list entry, sent to the host's client_refused_backend.")
        for (host, values) in hosts { out.sample("portcullis_clients_redirected_total", ["host": host], values.redirected) }

        out.family("portcullis_handshakes_total", .counter,
                   help: "Handshakes by result: ok (reason full or resumed; the host admitted the client) or failed (reason says why).")
        out.sample("portcullis_handshakes_total", ["result": "ok", "reason": "full"], snapshot.handshakesFull)
        out.sample("portcullis_handshakes_total", ["result": "ok", "reason": "resumed"], snapshot.handshakesResumed)
        for reason in HandshakeFailureReason.allCases {
            out.sample("portcullis_handshakes_total", ["result": "failed", "reason": reason.rawValue],
                       snapshot.handshakeFailures[reason] ?? 0)
        }
        out.family("portcullis_handshake_duration_seconds", .histogram,
                   help: "From accept to the completed TLS handshake (full and resumed, before the client policy).")
        out.histogram("portcullis_handshake_duration_seconds", upperBounds: HandshakeDurationBuckets.upperBounds,
                      counts: snapshot.handshakeBuckets, sum: Double(snapshot.handshakeNanoseconds) / 1e9)

        out.family("portcullis_backend_connect_failures_total", .counter, help: "Failed connects to a backend (refused, unreachable, timed out).")
        for (pair, value) in snapshot.backendConnectFailures.sorted(by: { $0.key < $1.key }) {
            out.sample("portcullis_backend_connect_failures_total", ["host": pair.first, "backend": pair.second], value)
        }
        out.family("portcullis_backend_up", .gauge,
                   help: "Active health check verdict per backend address: 1 up, 0 down (hosts with health_check_interval only).")
        for sample in snapshot.backendHealth {
            out.sample("portcullis_backend_up", [("host", sample.host), ("backend", sample.backend)], formatted: sample.up ? "1" : "0")
        }
        out.family("portcullis_backend_checks_total", .counter,
                   help: "Active health checks per backend address by result: ok, failed (refused, unreachable) or timeout.")
        for sample in snapshot.backendHealth {
            out.sample("portcullis_backend_checks_total", ["host": sample.host, "backend": sample.backend, "result": "ok"], sample.succeeded)
            out.sample("portcullis_backend_checks_total", ["host": sample.host, "backend": sample.backend, "result": "failed"], sample.failed)
            out.sample("portcullis_backend_checks_total", ["host": sample.host, "backend": sample.backend, "result": "timeout"], sample.timedOut)
        }
        out.family("portcullis_client_verify_failures_total", .counter,
                   help: "Refused client certificates by reason: an X509_V_ERR_* code, no_certificate, or allow_list.")
        for (pair, value) in snapshot.clientVerifyFailures.sorted(by: { $0.key < $1.key }) {
            out.sample("portcullis_client_verify_failures_total", ["host": pair.first, "reason": pair.second], value)
        }

        out.family("portcullis_certificate_expiry_timestamp_seconds", .gauge,
                   help: "notAfter of each served certificate (the leaf of each host certificate), Unix time.")
        for certificate in snapshot.certificates {
            out.sample("portcullis_certificate_expiry_timestamp_seconds",
                       [("host", certificate.host), ("subject", certificate.subject), ("serial", certificate.serial)],
                       formatted: String(certificate.notAfter))
        }
        out.family("portcullis_ocsp_response_next_update_timestamp_seconds", .gauge,
                   help: "nextUpdate of each loaded OCSP response (ocsp_response_file), Unix time; not stapled after it.")
        for response in snapshot.ocspResponses {
            out.sample("portcullis_ocsp_response_next_update_timestamp_seconds",
                       [("host", response.host), ("subject", response.subject), ("serial", response.serial)],
                       formatted: String(response.nextUpdate))
        }
        out.family("portcullis_reloads_total", .counter, help: "Configuration reloads (SIGHUP) by result.")
        out.sample("portcullis_reloads_total", ["result": "ok"], snapshot.reloadsSucceeded)
        out.sample("portcullis_reloads_total", ["result": "failed"], snapshot.reloadsFailed)
        out.family("portcullis_workers", .gauge, help: "Worker threads (event loops).")
        out.sample("portcullis_workers", [], formatted: String(snapshot.workers))
        return out.text
    }
}

/// What `/healthz` reports.
public enum ProxyHealth: Sendable, Equatable {
    /// Every worker loop answered: 200.
    case serving
    /// SIGTERM arrived; open connections are finishing and nothing new is accepted: 503.
    case draining
    /// A worker has not started, has exited or its loop did not answer in time: 503.
    case unresponsive
}
