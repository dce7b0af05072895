/// One worker's counters for one host (by `[[host]] name`). The worker that owns them is the only writer;
/// a connection keeps a reference from the moment its host admitted it, so counting its bytes is one
/// relaxed store with no lookup.
final class HostCounters: Sendable {
    /// Connections the host admitted (handshake done, policy passed).
    let opened = MetricCounter()
    /// Of those, the ones that have closed. Written with release ordering after `opened` (see
    /// `MetricCounter.addReleasing`), so `opened - closed` read in the other order is never negative.
    let closed = MetricCounter()
    /// Admitted connections whose TLS session was resumed.
    let resumed = MetricCounter()
    /// Plaintext bytes from clients, forwarded to the backend.
    let bytesIn = MetricCounter()
    /// Plaintext bytes from the backend, sent to clients.
    let bytesOut = MetricCounter()
    /// Admitted connections whose handshake stapled an OCSP response, counted when they close.
    let ocspStapled = MetricCounter()
    /// Clients whose certificate matched no allow-list entry, sent to `client_refused_backend`.
    let redirected = MetricCounter()

    init() {}
}
