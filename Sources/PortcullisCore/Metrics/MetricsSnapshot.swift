/// Every series' value at one scrape, summed over the workers. Plain values: rendering and tests read it.
struct MetricsSnapshot: Sendable, Equatable {
    struct HostValues: Sendable, Equatable {
        var opened: UInt64 = 0
        var closed: UInt64 = 0
        var resumed: UInt64 = 0
        var bytesIn: UInt64 = 0
        var bytesOut: UInt64 = 0
        var ocspStapled: UInt64 = 0
        var redirected: UInt64 = 0
        /// Connections admitted to the host and still open.
        var open: UInt64 { opened >= closed ? opened - closed : 0 }
    }

    struct LabelPair: Hashable, Sendable, Comparable {
        var first: String
        var second: String
        static func < (lhs: LabelPair, rhs: LabelPair) -> Bool {
            (lhs.first, lhs.second) < (rhs.first, rhs.second)
        }
    }

    var accepted: UInt64 = 0
    var refused: UInt64 = 0
    var handshakesFull: UInt64 = 0
    var handshakesResumed: UInt64 = 0
    var handshakeFailures: [HandshakeFailureReason: UInt64] = [:]
    var closes: [String: UInt64] = [:]
    /// Per bucket, not cumulative; the last is +Inf.
    var handshakeBuckets: [UInt64] = Array(repeating: 0, count: HandshakeDurationBuckets.upperBounds.count + 1)
    var handshakeNanoseconds: UInt64 = 0
    var hosts: [String: HostValues] = [:]
    /// (host, backend) -> failed connects.
    var backendConnectFailures: [LabelPair: UInt64] = [:]
    /// (host, reason) -> refused client certificates.
    var clientVerifyFailures: [LabelPair: UInt64] = [:]
    var reloadsSucceeded: UInt64 = 0
    var reloadsFailed: UInt64 = 0
    var certificates: [CertificateExpiry] = []
    var ocspResponses: [OCSPResponseExpiry] = []
    /// Active health checks, one per checked backend address, in configuration order.
    var backendHealth: [BackendHealthSample] = []
    var workers = 0

    /// Adds one worker's counters.
    mutating func add(_ worker: WorkerMetrics) {
        workers += 1
        accepted &+= worker.accepted.value
        refused &+= worker.refused.value
        handshakesFull &+= worker.handshakesFull.value
        handshakesResumed &+= worker.handshakesResumed.value
        for reason in HandshakeFailureReason.allCases {
            handshakeFailures[reason, default: 0] &+= worker.handshakeFailures[reason.index].value
        }
        for (index, code) in WorkerMetrics.closeCodes.enumerated() {
            closes[code, default: 0] &+= worker.closes[index].value
        }
        for index in handshakeBuckets.indices {
            handshakeBuckets[index] &+= worker.handshakeBuckets[index].value
        }
        handshakeNanoseconds &+= worker.handshakeNanoseconds.value
        let published = worker.publishedSeries()
        for (name, counters) in published.hosts {
            // `closed` first, with acquire ordering: every `opened` it counts is then visible too.
            let closed = counters.closed.loadAcquiring()
            var values = hosts[name] ?? HostValues()
            values.closed &+= closed
            values.opened &+= counters.opened.value
            values.resumed &+= counters.resumed.value
            values.bytesIn &+= counters.bytesIn.value
            values.bytesOut &+= counters.bytesOut.value
            values.ocspStapled &+= counters.ocspStapled.value
            values.redirected &+= counters.redirected.value
            hosts[name] = values
        }
        for (key, counter) in published.series {
            let pair = LabelPair(first: key.labels[0], second: key.labels[1])
            switch key.family {
            case .backendConnectFailures: backendConnectFailures[pair, default: 0] &+= counter.value
            case .clientVerifyFailures: clientVerifyFailures[pair, default: 0] &+= counter.value
            }
        }
    }

    /// Connections open right now, over all workers (from accepts and closes).
    var open: UInt64 {
        let closed = closes.values.reduce(0, &+)
        return accepted >= closed ? accepted - closed : 0
    }
}
