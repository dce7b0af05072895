internal import Glibc

/// A listening socket bound for one worker (`SO_REUSEPORT`: the kernel spreads new connections over the
/// workers' sockets for the same address, with no shared accept lock).
struct BoundSocket: Sendable {
    let fd: Int32
    let listenerIndex: Int
    let address: SocketAddress
    /// The socket is shared with other workers (inherited from systemd): watched with EPOLLEXCLUSIVE.
    var shared = false
}

/// A worker's registration of one bound socket: accepts in batches on readiness, and can pause itself for a
/// moment when the process runs out of descriptors.
final class ListenerSocket: LoopEventHandler, LoopTimerTarget {
    /// The worker outlives its listeners.
    unowned(unsafe) let worker: Worker
    private(set) var fd: Int32
    let listenerIndex: Int
    var token = EventLoop.Token.none
    var timerState = LoopTimerState()
    /// Accepting is paused until the timer fires (descriptor exhaustion without a reserve descriptor).
    var paused = false

    init(worker: Worker, socket: BoundSocket) {
        self.worker = worker
        self.fd = socket.fd
        self.listenerIndex = socket.listenerIndex
    }

    func handleEvent(_ flags: UInt32) {
        worker.acceptBatch(self)
    }

    func timerFired(now: UInt64) {
        paused = false
        worker.acceptBatch(self)
    }

    /// Stops listening: the socket is closed (connections still in its accept queue are reset by the kernel,
    /// unless the socket is shared: then they wait for whoever still holds it, e.g. systemd).
    func close(loop: EventLoop) {
        guard fd >= 0 else { return }
        loop.timers.cancel(self)
        // Explicitly removed from epoll: a shared socket stays open through the other workers' duplicates,
        // and a stale exclusive registration would swallow wake-ups meant for them.
        loop.deregister(fd, token: token)
        token = .none
        Glibc.close(fd)
        fd = -1
    }
}
