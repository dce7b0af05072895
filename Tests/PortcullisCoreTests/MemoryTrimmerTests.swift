import Testing
@testable import PortcullisCore

/// When a worker gives freed memory back: after a large fall in its connection count, once, a moment later.
@Suite struct MemoryTrimmerTests {
    final class Counter { var trims = 0 }

    private func trimmer(_ loop: EventLoop, _ counter: Counter) -> MemoryTrimmer {
        MemoryTrimmer(loop: loop, delay: 1_000_000) { counter.trims += 1 }
    }

    /// Runs the loop until its timers have fired (the check is due 1 ms after it was scheduled).
    private func fireTimers(_ loop: EventLoop) {
        for _ in 0..<50 where !loop.timers.isEmpty { loop.runOnce(maximumWaitMilliseconds: 5) }
    }

    private func open(_ trimmer: MemoryTrimmer, upTo count: Int, from start: Int = 1) {
        for count in start...count { trimmer.opened(count: count) }
    }

    private func close(_ trimmer: MemoryTrimmer, from start: Int, downTo count: Int) {
        for count in stride(from: start - 1, through: count, by: -1) { trimmer.closed(count: count) }
    }

    @Test func aLargeFallTrimsOnceWhenItsCheckFires() throws {
        let loop = try EventLoop()
        let counter = Counter()
        let trimmer = trimmer(loop, counter)
        open(trimmer, upTo: 1000)
        close(trimmer, from: 1000, downTo: 800)
        #expect(loop.timers.isEmpty, "200 closed: below the minimum fall")
        close(trimmer, from: 800, downTo: 700)
        #expect(!loop.timers.isEmpty, "300 closed, more than a quarter of the peak: a check is scheduled")
        #expect(counter.trims == 0, "never on the closing connection's path")
        close(trimmer, from: 700, downTo: 0)
        fireTimers(loop)
        #expect(counter.trims == 1)
        #expect(trimmer.peak == 0, "the next fall is measured from what is open now")
        open(trimmer, upTo: 100)
        close(trimmer, from: 100, downTo: 0)
        #expect(loop.timers.isEmpty, "100 connections rising and falling again is no large fall")
    }

    @Test func churnAroundAHighLevelNeverTrims() throws {
        let loop = try EventLoop()
        let counter = Counter()
        let trimmer = trimmer(loop, counter)
        open(trimmer, upTo: 9000)
        for _ in 0..<5 {
            close(trimmer, from: 9000, downTo: 7000)
            open(trimmer, upTo: 9000, from: 7001)
        }
        #expect(loop.timers.isEmpty, "2,000 of 9,000 is less than a quarter")
        #expect(counter.trims == 0)
    }

    @Test func connectionsBackBeforeTheCheckCancelTheTrim() throws {
        let loop = try EventLoop()
        let counter = Counter()
        let trimmer = trimmer(loop, counter)
        open(trimmer, upTo: 1000)
        close(trimmer, from: 1000, downTo: 600)
        #expect(!loop.timers.isEmpty)
        open(trimmer, upTo: 950, from: 601)
        fireTimers(loop)
        #expect(counter.trims == 0, "only 50 below the peak when the check ran")
        close(trimmer, from: 950, downTo: 700)
        #expect(!loop.timers.isEmpty, "measured from the same peak, the fall is large again")
        trimmer.stop()
        #expect(loop.timers.isEmpty, "a stopped worker leaves no timer behind")
    }
}
