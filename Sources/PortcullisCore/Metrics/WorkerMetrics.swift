import OpenSSLSSL
import Synchronization

/// The counters of one worker. The worker's thread is the only writer of every counter here; the metrics
/// endpoint's thread reads them (relaxed atomics, see `MetricCounter`) and sums over workers. Nothing is
/// shared with another worker, and the per-connection path takes no lock.
///
/// Labelled series whose label values are only known at run time (hosts, backends, verify reasons) are
/// created on first use: the worker looks them up in its own dictionaries (confined to its thread, hence
/// `@unchecked Sendable`), and publishes a new series once, under this worker's own mutex, which only the
/// scrape also takes. A connection keeps its host's `HostCounters`, so its bytes need no lookup at all.
final class WorkerMetrics: @unchecked Sendable {
    /// A labelled counter's identity: the family and its label values in the family's label order.
    struct SeriesKey: Hashable, Sendable {
        enum Family: Sendable { case backendConnectFailures, clientVerifyFailures }
        let family: Family
        let labels: [String]
    }

    /// What the scrape copies out under the mutex: every dynamically created series so far.
    struct Published: Sendable {
        var hosts: [(name: String, counters: HostCounters)] = []
        var series: [(key: SeriesKey, counter: MetricCounter)] = []
    }

    let index: Int
    /// TCP connections accepted and handed to a TLS connection.
    let accepted = MetricCounter()
    /// Connections closed at once after `accept` (`max_connections`, descriptors exhausted, no host).
    let refused = MetricCounter()
    /// Admitted handshakes, full.
    let handshakesFull = MetricCounter()
    /// Admitted handshakes, resumed (session ID or ticket).
    let handshakesResumed = MetricCounter()
    /// Failed handshakes, indexed by `HandshakeFailureReason.index`.
    let handshakeFailures: [MetricCounter] = HandshakeFailureReason.allCases.map { _ in MetricCounter() }
    /// Closed connections, indexed by `Self.closeIndex(_:)`.
    let closes: [MetricCounter] = WorkerMetrics.closeCodes.map { _ in MetricCounter() }
    /// Completed TLS handshakes by duration bucket (not cumulative; the last one is +Inf).
    let handshakeBuckets: [MetricCounter] = (0...HandshakeDurationBuckets.upperBounds.count).map { _ in MetricCounter() }
    /// Sum of the observed handshake durations, in nanoseconds.
    let handshakeNanoseconds = MetricCounter()

    /// Liveness probe (`/healthz`): the endpoint raises `pingsSent` and wakes the loop; the loop copies it to
    /// `pingsAnswered` when it handles the wake-up. A stuck loop never answers.
    let pingsSent = Atomic<UInt64>(0)
    let pingsAnswered = Atomic<UInt64>(0)

    // Confined to the worker's thread.
    private var hostIndex: [String: HostCounters] = [:]
    private var seriesIndex: [SeriesKey: MetricCounter] = [:]
    // Appended by the worker (rarely: a new host or label value), copied by the scrape.
    private let published = Mutex(Published())

    init(index: Int) {
        self.index = index
    }

    // MARK: Events (worker thread only)

    @inline(__always)
    func connectionAccepted() { accepted.add() }

    @inline(__always)
    func connectionRefused() { refused.add() }

    /// The TLS handshake completed (full or resumed), whatever the policy then decides.
    @inline(__always)
    func handshakeCompleted(nanoseconds: UInt64) {
        handshakeBuckets[HandshakeDurationBuckets.index(nanoseconds: nanoseconds)].add()
        handshakeNanoseconds.add(nanoseconds)
    }

    /// The host admitted the client: count the handshake as ok and the connection as open on the host.
    /// Returns the host's counters for the connection to keep.
    func hostAdmitted(_ host: String, resumed: Bool) -> HostCounters {
        let counters = hostCounters(host)
        counters.opened.add()
        if resumed {
            handshakesResumed.add()
            counters.resumed.add()
        } else {
            handshakesFull.add()
        }
        return counters
    }

    /// The host's allow-list refused the client's certificate and the connection goes to its
    /// `client_refused_backend`: a policy failure of the handshake, an `allow_list` verify failure, and a
    /// redirect. Not admitted, so not in the host's connection counts.
    func clientRedirected(host: String) {
        handshakeFailures[HandshakeFailureReason.policy.index].add()
        clientVerifyFailed(host: host, reason: "allow_list")
        hostCounters(host).redirected.add()
    }

    /// A connect to `backend` of `host` failed (refused, unreachable, timed out).
    func backendConnectFailed(host: String, backend: String) {
        series(SeriesKey(family: .backendConnectFailures, labels: [host, backend])).add()
    }

    /// The connection is closing. Counts its close reason and, for connections that did not get through the
    /// handshake and the host's policy, the handshake failure and the client-verify failure.
    ///
    /// - Parameters:
    ///   - host: the counters `hostAdmitted` returned, nil if the connection was never admitted.
    ///   - handshakeError: the error the handshake failed with, for `.handshakeFailed`.
    ///   - hostName: the host SNI selection chose, asked only on failure paths.
    func connectionClosed(
        _ reason: CloseReason, host: HostCounters?, tls: Connection, handshakeError: (any Error)?,
        hostName: () -> String?
    ) {
        closes[Self.closeIndex(reason)].add()
        // Asked here rather than in the OCSP callback, which runs on a context shared by every worker.
        if let host, tls.stapledOCSPResponse { host.ocspStapled.add() }
        host?.closed.addReleasing()
        switch reason {
        case .handshakeFailed:
            let verifyResult = tls.getVerifyResult()
            let failure = handshakeError.map { HandshakeFailureReason.classify($0, verifyResult: verifyResult) } ?? .other
            handshakeFailures[failure.index].add()
            if failure == .clientCertificate {
                // A certificate that failed verification leaves its X509_V_* code; none sent leaves X509_V_OK.
                let verifyReason = verifyResult != 0 ? VerifyCodeName.name(verifyResult) : "no_certificate"
                clientVerifyFailed(host: hostName() ?? "", reason: verifyReason)
            }
        case .handshakeTimeout:
            handshakeFailures[HandshakeFailureReason.timeout.index].add()
        case .clientClosedDuringHandshake:
            handshakeFailures[HandshakeFailureReason.clientClosed.index].add()
        case .noHost:
            handshakeFailures[HandshakeFailureReason.noHost.index].add()
        case .policyDenied:
            handshakeFailures[HandshakeFailureReason.policy.index].add()
            // The same order of checks as `Host.admits`.
            let verifyResult = tls.getVerifyResult()
            let verifyReason: String
            if tls.getPeerCertificate() == nil {
                verifyReason = "no_certificate"
            } else if verifyResult != 0 {
                verifyReason = VerifyCodeName.name(verifyResult)
            } else {
                verifyReason = "allow_list"
            }
            clientVerifyFailed(host: hostName() ?? "", reason: verifyReason)
        default:
            break
        }
    }

    /// The loop handled a wake-up: answer the pending liveness probes.
    @inline(__always)
    func answerPings() {
        pingsAnswered.store(pingsSent.load(ordering: .acquiring), ordering: .releasing)
    }

    private func clientVerifyFailed(host: String, reason: String) {
        series(SeriesKey(family: .clientVerifyFailures, labels: [host, reason])).add()
    }

    private func hostCounters(_ name: String) -> HostCounters {
        if let counters = hostIndex[name] { return counters }
        let counters = HostCounters()
        hostIndex[name] = counters
        published.withLock { $0.hosts.append((name, counters)) }
        return counters
    }

    private func series(_ key: SeriesKey) -> MetricCounter {
        if let counter = seriesIndex[key] { return counter }
        let counter = MetricCounter()
        seriesIndex[key] = counter
        published.withLock { $0.series.append((key, counter)) }
        return counter
    }

    // MARK: Scrape (any thread)

    /// The dynamically created series so far.
    func publishedSeries() -> Published {
        published.withLock { $0 }
    }

    // MARK: Close reasons

    /// `CloseReason.code` of every case, in `closeIndex` order.
    static let closeCodes = [
        "completed", "handshake_failed", "handshake_timeout", "handshake_aborted", "no_host", "policy_denied",
        "backend_unavailable", "client_reset", "truncated", "backend_reset", "tls_error", "idle_timeout",
        "drain_deadline", "internal_error", "proxy_header_invalid", "proxy_source_denied", "client_gone",
        "client_limit",
    ]

    /// Exhaustive, so a new `CloseReason` case does not compile until it has a counter.
    static func closeIndex(_ reason: CloseReason) -> Int {
        switch reason {
        case .completed: return 0
        case .handshakeFailed: return 1
        case .handshakeTimeout: return 2
        case .clientClosedDuringHandshake: return 3
        case .noHost: return 4
        case .policyDenied: return 5
        case .backendUnavailable: return 6
        case .clientReset: return 7
        case .clientTruncated: return 8
        case .backendReset: return 9
        case .tlsError: return 10
        case .idleTimeout: return 11
        case .drainDeadline: return 12
        case .internalError: return 13
        case .proxyHeaderInvalid: return 14
        case .proxySourceDenied: return 15
        case .clientGone: return 16
        case .clientLimit: return 17
        }
    }
}
