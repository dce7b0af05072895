internal import CPortcullisSystem
internal import Glibc

/// What an epoll registration points at. Connections get their own cases so the hot path dispatches with a
/// `switch`, not through an existential.
enum EventTarget {
    /// The client (TLS) socket of a connection.
    case client(ProxyConnection)
    /// The backend (plaintext) socket of a connection.
    case backend(ProxyConnection)
    /// Anything else: listeners, the wake-up eventfd, test handlers.
    case handler(any LoopEventHandler)
}

/// A registration that is not a connection socket.
protocol LoopEventHandler: AnyObject {
    /// `flags` are the `EPOLL*` bits reported (or `EPOLLIN` for a deferred call).
    func handleEvent(_ flags: UInt32)
}

/// One worker's event loop: an edge-triggered epoll instance, a timer heap and a list of deferred calls.
/// Confined to the thread that runs it.
///
/// Why edge-triggered: each socket is registered once, for `EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`, and
/// never modified again. Back-pressure then costs no syscall (a side whose peer buffer is full is simply not
/// read; its readiness is remembered), and neither does waiting for writability: the kernel only reports
/// `EPOLLOUT` on an edge, i.e. after a write hit `EAGAIN` and space came back, so there is no busy wake-up
/// while nothing is pending. Level-triggered epoll would need an `epoll_ctl(MOD)` each time a write blocks or
/// completes and each time a side is paused or resumed. The price of edge triggering is discipline: every
/// reader and writer keeps going until `EAGAIN` (for TLS: until `wantRead`/`wantWrite`), which is also what
/// OpenSSL's own buffering requires.
///
/// Registrations are identified by a token (slot index + generation) in `epoll_event.data`, so an event
/// still queued for a socket closed earlier in the same batch is recognised as stale and dropped. Closing
/// a socket removes it from epoll, so sockets are closed without an `EPOLL_CTL_DEL`.
final class EventLoop {
    /// A registration handle.
    struct Token: Equatable {
        let raw: UInt64
        static let none = Token(raw: .max)
        var slot: Int { Int(truncatingIfNeeded: raw & 0xFFFF_FFFF) }
        var generation: UInt32 { UInt32(truncatingIfNeeded: raw >> 32) }
    }

    private struct Slot {
        var target: EventTarget?
        var generation: UInt32
    }

    /// Edge-triggered interest for stream sockets.
    static let streamEvents: UInt32 = portcullis_EPOLLIN | portcullis_EPOLLOUT | portcullis_EPOLLRDHUP | portcullis_EPOLLET
    /// Edge-triggered read interest (listeners, eventfds).
    static let readEvents: UInt32 = portcullis_EPOLLIN | portcullis_EPOLLET

    let epollFD: Int32
    private let events: UnsafeMutableRawPointer
    private let eventCapacity: Int32
    private var slots: [Slot] = []
    private var freeSlots: [Int] = []
    private var deferred: [any LoopEventHandler] = []
    private var deferredSpare: [any LoopEventHandler] = []

    /// The time of the last wake-up (monotonic nanoseconds): handlers use it instead of reading the clock.
    private(set) var now: UInt64
    /// Per-loop timers; see `TimerHeap`.
    var timers = TimerHeap()
    /// Number of live registrations.
    private(set) var registrationCount = 0

    init(eventCapacity: Int32 = 512) throws {
        let fd = portcullis_epoll_create()
        guard fd >= 0 else { throw SystemCallError.last("epoll_create1") }
        guard let events = portcullis_epoll_events_allocate(eventCapacity) else {
            close(fd)
            throw SystemCallError("epoll event array", code: ENOMEM)
        }
        self.epollFD = fd
        self.events = events
        self.eventCapacity = eventCapacity
        self.now = MonotonicClock.now()
    }

    deinit {
        portcullis_epoll_events_free(events)
        close(epollFD)
    }

    /// Registers `fd` for `events` (edge-triggered stream interest by default).
    func register(_ fd: Int32, target: EventTarget, events: UInt32 = EventLoop.streamEvents) throws -> Token {
        let index: Int
        if let reused = freeSlots.popLast() {
            index = reused
            slots[index].target = target
        } else {
            index = slots.count
            slots.append(Slot(target: target, generation: 0))
        }
        let token = Token(raw: UInt64(slots[index].generation) << 32 | UInt64(index))
        guard portcullis_epoll_ctl(epollFD, portcullis_EPOLL_CTL_ADD, fd, events, token.raw) == 0 else {
            let error = SystemCallError.last("epoll_ctl(ADD)")
            forget(token)
            throw error
        }
        registrationCount += 1
        return token
    }

    /// Forgets a registration whose socket is about to be closed (closing removes it from epoll; any event
    /// still queued for it is dropped as stale).
    func forget(_ token: Token) {
        guard token != .none, token.slot < slots.count, slots[token.slot].generation == token.generation,
              slots[token.slot].target != nil else { return }
        slots[token.slot].target = nil
        slots[token.slot].generation &+= 1
        freeSlots.append(token.slot)
        registrationCount -= 1
    }

    /// Removes `fd` from epoll and forgets its registration, for a descriptor that stays open.
    func deregister(_ fd: Int32, token: Token) {
        _ = portcullis_epoll_ctl(epollFD, portcullis_EPOLL_CTL_DEL, fd, 0, 0)
        forget(token)
    }

    /// Calls `handler.handleEvent(EPOLLIN)` on the next iteration, without waiting (used to continue an
    /// accept batch cut short for fairness).
    func deferCall(_ handler: any LoopEventHandler) {
        deferred.append(handler)
    }

    /// Waits for events (at most until the next timer, and at most `maximumWaitMilliseconds` when given),
    /// dispatches them, then fires expired timers and deferred calls.
    func runOnce(maximumWaitMilliseconds: Int32 = -1) {
        var timeout: Int32 = -1
        if !deferred.isEmpty {
            timeout = 0
        } else if let deadline = timers.nextDeadline {
            let current = MonotonicClock.now()
            let remaining = deadline > current ? deadline - current : 0
            // Round up: waking a little late is harmless, waking early costs a useless iteration.
            timeout = Int32(clamping: (remaining + 999_999) / 1_000_000)
        }
        if maximumWaitMilliseconds >= 0, timeout < 0 || timeout > maximumWaitMilliseconds {
            timeout = maximumWaitMilliseconds
        }
        let ready = portcullis_epoll_wait(epollFD, events, eventCapacity, timeout)
        now = MonotonicClock.now()
        if ready > 0 {
            for index in 0..<Int(ready) {
                dispatch(flags: portcullis_epoll_event_flags(events, Int32(index)),
                         token: Token(raw: portcullis_epoll_event_data(events, Int32(index))))
            }
        }
        while let target = timers.popExpired(now: now) {
            target.timerFired(now: now)
        }
        if !deferred.isEmpty {
            swap(&deferred, &deferredSpare)
            for handler in deferredSpare { handler.handleEvent(portcullis_EPOLLIN) }
            deferredSpare.removeAll(keepingCapacity: true)
        }
    }

    @inline(__always)
    private func dispatch(flags: UInt32, token: Token) {
        let index = token.slot
        guard index < slots.count, slots[index].generation == token.generation, let target = slots[index].target else {
            return
        }
        switch target {
        case .client(let connection): connection.clientSocketEvent(flags)
        case .backend(let connection): connection.backendSocketEvent(flags)
        case .handler(let handler): handler.handleEvent(flags)
        }
    }
}
