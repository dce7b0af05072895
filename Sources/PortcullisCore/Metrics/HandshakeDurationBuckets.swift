/// The upper bounds of the `portcullis_handshake_duration_seconds` histogram, in seconds. A full handshake on
/// loopback takes about 1 ms (ECDSA) to 3 ms (RSA-2048); over the Internet one or two round trips more.
/// The last bounds catch slow or stalling clients up to the default `handshake_timeout` (10 s).
enum HandshakeDurationBuckets {
    static let upperBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// The same bounds in nanoseconds, for the integer comparison on the worker.
    static let upperBoundsNanoseconds: [UInt64] = upperBounds.map { UInt64(($0 * 1_000_000_000).rounded()) }

    /// The bucket for a duration: the first bound it does not exceed, or `upperBounds.count` (+Inf).
    @inline(__always)
    static func index(nanoseconds: UInt64) -> Int {
        var index = 0
        while index < upperBoundsNanoseconds.count, nanoseconds > upperBoundsNanoseconds[index] { index += 1 }
        return index
    }
}
