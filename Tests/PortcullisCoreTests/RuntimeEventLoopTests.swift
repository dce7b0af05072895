import CPortcullisSystem
import Foundation
import Glibc
import Testing
@testable import PortcullisCore

private final class RecordingTimer: LoopTimerTarget {
    var timerState = LoopTimerState()
    let name: String
    let log: Log
    init(_ name: String, log: Log) {
        self.name = name
        self.log = log
    }
    func timerFired(now: UInt64) { log.names.append(name) }
}

private final class Log { var names: [String] = [] }

private final class CountingHandler: LoopEventHandler {
    var calls = 0
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    func handleEvent(_ flags: UInt32) {
        calls += 1
        _ = portcullis_eventfd_drain(fd)
    }
}

@Suite struct RuntimeEventLoopTests {
    @Test func heapPopsInDeadlineOrder() {
        let log = Log()
        var heap = TimerHeap()
        var targets: [RecordingTimer] = []
        for (index, deadline) in [50, 10, 40, 30, 20, 60, 5].enumerated() {
            let target = RecordingTimer("t\(deadline)", log: log)
            targets.append(target)
            heap.schedule(target, at: UInt64(deadline))
            #expect(heap.count == index + 1)
        }
        heap.cancel(targets[2])  // 40
        heap.schedule(targets[0], at: 1)  // 50 -> 1
        #expect(heap.nextDeadline == 1)
        while let target = heap.popExpired(now: 35) { target.timerFired(now: 35) }
        #expect(log.names == ["t50", "t5", "t10", "t20", "t30"])
        #expect(heap.nextDeadline == 60)
        #expect(!targets[2].timerState.isScheduled)
    }

    @Test func heapMatchesASortAfterRandomOperations() {
        var generator = SystemRandomNumberGenerator()
        let log = Log()
        var heap = TimerHeap()
        var targets = (0..<300).map { RecordingTimer("\($0)", log: log) }
        var expected: [ObjectIdentifier: UInt64] = [:]
        for _ in 0..<3000 {
            let target = targets[Int.random(in: 0..<targets.count, using: &generator)]
            if Bool.random(using: &generator) {
                let deadline = UInt64.random(in: 0..<1_000_000, using: &generator)
                heap.schedule(target, at: deadline)
                expected[ObjectIdentifier(target)] = deadline
            } else {
                heap.cancel(target)
                expected[ObjectIdentifier(target)] = nil
            }
        }
        var popped: [UInt64] = []
        while let target = heap.popExpired(now: .max) { popped.append(target.timerState.deadline) }
        #expect(popped == expected.values.sorted())
        targets.removeAll()
    }

    @Test func loopFiresTimersAtTheirDeadline() throws {
        let loop = try EventLoop()
        let log = Log()
        let early = RecordingTimer("early", log: log)
        let late = RecordingTimer("late", log: log)
        let start = MonotonicClock.now()
        loop.timers.schedule(late, at: start + 60_000_000)
        loop.timers.schedule(early, at: start + 20_000_000)
        while log.names.count < 2 { loop.runOnce() }
        let elapsed = MonotonicClock.now() - start
        #expect(log.names == ["early", "late"])
        #expect(elapsed >= 60_000_000)
        #expect(elapsed < 1_000_000_000)
    }

    @Test func eventfdWakesABlockedLoop() throws {
        let loop = try EventLoop()
        let fd = portcullis_eventfd_create()
        defer { close(fd) }
        let handler = CountingHandler(fd: fd)
        _ = try loop.register(fd, target: .handler(handler), events: EventLoop.readEvents)
        let start = Date()
        Thread.detachNewThread {
            usleep(30_000)
            portcullis_eventfd_signal(fd)
        }
        loop.runOnce(maximumWaitMilliseconds: 5000)
        #expect(handler.calls == 1)
        #expect(Date().timeIntervalSince(start) < 4)
    }

    @Test func forgottenRegistrationsAreNotDispatched() throws {
        let loop = try EventLoop()
        let first = portcullis_eventfd_create()
        let second = portcullis_eventfd_create()
        defer { close(first); close(second) }
        let stale = CountingHandler(fd: first)
        let live = CountingHandler(fd: second)
        let staleToken = try loop.register(first, target: .handler(stale), events: EventLoop.readEvents)
        loop.forget(staleToken)
        // The slot is reused with a new generation; the old registration's events must not reach `live`.
        _ = try loop.register(second, target: .handler(live), events: EventLoop.readEvents)
        portcullis_eventfd_signal(first)
        loop.runOnce(maximumWaitMilliseconds: 50)
        #expect(stale.calls == 0 && live.calls == 0)
        portcullis_eventfd_signal(second)
        loop.runOnce(maximumWaitMilliseconds: 1000)
        #expect(live.calls == 1 && stale.calls == 0)
        #expect(loop.registrationCount == 1)
    }
}
