internal import Glibc

/// `CLOCK_MONOTONIC` in nanoseconds: the time base of every event-loop timer. A vDSO call, no syscall.
enum MonotonicClock {
    @inline(__always)
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    /// Wall-clock time in nanoseconds since the Unix epoch (for the access log's start time).
    static func wallNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to `0...UInt64.max` (negative durations count as 0).
    var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (wholeSeconds, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        return wholeSeconds.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000)).overflow
            ? .max : wholeSeconds + UInt64(attoseconds / 1_000_000_000)
    }

    /// A duration from a nanosecond count.
    static func fromNanoseconds(_ nanoseconds: UInt64) -> Duration {
        .nanoseconds(Int64(clamping: nanoseconds))
    }
}
