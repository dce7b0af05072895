/// Timer bookkeeping stored inside each timer target (no separate allocation per timer).
struct LoopTimerState {
    /// Monotonic deadline in nanoseconds (meaningful while scheduled).
    var deadline: UInt64 = 0
    /// Position in the heap, or -1 when not scheduled.
    var heapIndex: Int = -1
    var isScheduled: Bool { heapIndex >= 0 }
}

/// Something an event loop can wake at a deadline. Each target has at most one pending timer: a connection
/// only ever waits for one thing (handshake, backend connect, or idleness).
protocol LoopTimerTarget: AnyObject {
    var timerState: LoopTimerState { get set }
    /// Called on the loop thread once the deadline passed; the timer is no longer scheduled.
    func timerFired(now: UInt64)
}

/// A binary min-heap of timer targets ordered by deadline: O(log n) schedule, reschedule and cancel, O(1)
/// next deadline. The loop derives its `epoll_wait` timeout from the earliest deadline, so timers cost no
/// file descriptor and no syscall of their own.
///
/// The idle timeout is lazy: a connection records the time of its last transfer without touching the heap;
/// when its timer fires it re-arms for `lastActivity + idle` if it moved bytes in between.
struct TimerHeap {
    private var items: [any LoopTimerTarget] = []

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }

    /// The earliest deadline, if any timer is scheduled.
    var nextDeadline: UInt64? { items.first?.timerState.deadline }

    /// Schedules `target` at `deadline`, moving it if it was already scheduled.
    mutating func schedule(_ target: any LoopTimerTarget, at deadline: UInt64) {
        let index = target.timerState.heapIndex
        if index >= 0 {
            let old = target.timerState.deadline
            target.timerState.deadline = deadline
            if deadline < old { siftUp(index) } else { siftDown(index) }
            return
        }
        target.timerState.deadline = deadline
        target.timerState.heapIndex = items.count
        items.append(target)
        siftUp(items.count - 1)
    }

    /// Removes `target` if it is scheduled.
    mutating func cancel(_ target: any LoopTimerTarget) {
        let index = target.timerState.heapIndex
        guard index >= 0 else { return }
        target.timerState.heapIndex = -1
        let last = items.count - 1
        if index != last {
            items[index] = items[last]
            items[index].timerState.heapIndex = index
            items.removeLast()
            siftDown(index)
            siftUp(index)
        } else {
            items.removeLast()
        }
    }

    /// Removes and returns the earliest target whose deadline is at or before `now`.
    mutating func popExpired(now: UInt64) -> (any LoopTimerTarget)? {
        guard let first = items.first, first.timerState.deadline <= now else { return nil }
        cancel(first)
        return first
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].timerState.deadline < items[parent].timerState.deadline else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let count = items.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { return }
            var smallest = left
            let right = left + 1
            if right < count, items[right].timerState.deadline < items[left].timerState.deadline { smallest = right }
            guard items[smallest].timerState.deadline < items[parent].timerState.deadline else { return }
            swapAt(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        items.swapAt(a, b)
        items[a].timerState.heapIndex = a
        items[b].timerState.heapIndex = b
    }
}
