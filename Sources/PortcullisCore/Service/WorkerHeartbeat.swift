import Synchronization

/// Proof of life of one worker's event loop, for the systemd watchdog.
///
/// The worker's loop stamps it from a timer (`HeartbeatTimer`); the control thread reads every stamp before
/// it sends `WATCHDOG=1` and withholds the ping when one is stale. A loop that is stuck (a handler that never
/// returns, a blocking call) runs no timers, so its stamp ages and systemd restarts the service.
///
/// One atomic per worker, written only by that worker and read by the control thread: nothing on a
/// connection's path touches it, and no lock is shared.
final class WorkerHeartbeat: Sendable {
    /// Stamp of a worker that has exited: it no longer counts.
    static let retired = UInt64.max

    let workerIndex: Int
    private let stamp: Atomic<UInt64>

    init(workerIndex: Int, now: UInt64) {
        self.workerIndex = workerIndex
        // Counted as alive from creation, so the thread's start-up is not mistaken for a hang.
        stamp = Atomic(now)
    }

    /// The monotonic time (ns) of the last beat, or `retired`.
    var lastBeat: UInt64 { stamp.load(ordering: .relaxed) }

    func beat(_ now: UInt64) { stamp.store(now, ordering: .relaxed) }

    func retire() { stamp.store(Self.retired, ordering: .relaxed) }
}

/// The per-loop timer that stamps a `WorkerHeartbeat` every `period` nanoseconds. Confined to the worker's
/// loop thread; costs one timer-heap entry, and nothing when the watchdog is off (no timer exists).
final class HeartbeatTimer: LoopTimerTarget {
    let heartbeat: WorkerHeartbeat
    let period: UInt64
    var timerState = LoopTimerState()
    /// The loop that fires this timer; it outlives the timer's registration (`stop` runs on the loop thread
    /// before the loop goes away).
    private unowned(unsafe) var loop: EventLoop?

    init(heartbeat: WorkerHeartbeat, period: UInt64) {
        self.heartbeat = heartbeat
        self.period = max(1_000_000, period)
    }

    /// Beats now and arms the timer on `loop` (call on the loop's thread).
    func start(on loop: EventLoop) {
        self.loop = loop
        heartbeat.beat(loop.now)
        loop.timers.schedule(self, at: loop.now &+ period)
    }

    func timerFired(now: UInt64) {
        heartbeat.beat(now)
        loop?.timers.schedule(self, at: now &+ period)
    }

    /// Cancels the timer and marks the worker as exited.
    func stop() {
        loop?.timers.cancel(self)
        loop = nil
        heartbeat.retire()
    }
}
