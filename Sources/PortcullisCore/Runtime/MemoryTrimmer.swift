internal import CPortcullisSystem

/// Gives freed heap memory back to the kernel once a worker's connection count has fallen well below its
/// peak, so that a burst of connections does not pin its memory for the life of the process.
///
/// glibc keeps what connections free (their OpenSSL objects, buffers, our state) in its arenas: measured here,
/// the RSS stayed at 88 MB after 4,000 idle TLS connections had closed, and fell to 31 MB after one
/// `malloc_trim(0)`. Trimming walks every arena under its lock, so another worker's `malloc` may wait for it
/// and the memory trimmed is faulted in again by the next burst: it runs once per large fall, never per
/// connection. A fall counts when at least `minimumFall` connections and a quarter of the peak have closed
/// (a steady churn around a level never trims), checked `delay` (2 s) after the fall began, as closes come
/// in bursts. Confined to one worker's thread.
final class MemoryTrimmer: LoopTimerTarget {
    static let minimumFall = 256

    var timerState = LoopTimerState()
    /// Highest connection count since the last trim.
    private(set) var peak = 0
    private var open = 0
    private var scheduled = false
    /// The loop that fires the timer; it outlives the trimmer's registration (`stop` runs on the loop's
    /// thread before the loop goes away).
    private unowned(unsafe) let loop: EventLoop
    private let delay: UInt64
    private let trim: () -> Void

    /// `trim` returns memory to the system (`malloc_trim`; tests count calls instead).
    init(loop: EventLoop, delay: UInt64 = 2_000_000_000, trim: @escaping () -> Void = { _ = portcullis_malloc_trim() }) {
        self.loop = loop
        self.delay = delay
        self.trim = trim
    }

    /// The worker now has `count` connections, one more than before.
    @inline(__always)
    func opened(count: Int) {
        open = count
        if count > peak { peak = count }
    }

    /// The worker now has `count` connections, one fewer than before.
    @inline(__always)
    func closed(count: Int) {
        open = count
        if !scheduled, fallIsLarge {
            scheduled = true
            loop.timers.schedule(self, at: loop.now &+ delay)
        }
    }

    func timerFired(now: UInt64) {
        scheduled = false
        guard fallIsLarge else { return }
        trim()
        peak = open
    }

    /// Cancels a pending check (the loop is ending).
    func stop() {
        if scheduled { loop.timers.cancel(self) }
        scheduled = false
    }

    private var fallIsLarge: Bool {
        let fall = peak - open
        return fall >= Self.minimumFall && fall >= peak / 4
    }
}
