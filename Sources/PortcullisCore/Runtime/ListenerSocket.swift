internal import Glibc
import OpenSSLSSL

/// A listening socket bound for one worker (`SO_REUSEPORT`: the kernel spreads new connections over the
/// workers' sockets for the same address, with no shared accept lock).
struct BoundSocket: Sendable {
    let fd: Int32
    /// The listener (`[[listener]] name`) it serves now; a reload may move the address to another listener.
    let listener: String
    let address: SocketAddress
    /// Which `ListenerBinding` (one address, one socket per worker) this socket belongs to: how a reload
    /// names the sockets to close or move, whatever the order of the listeners in the file.
    var bindingID: Int = 0
    /// The socket is shared with other workers (inherited from systemd): watched with EPOLLEXCLUSIVE.
    var shared = false
}

/// A worker's registration of one bound socket: accepts in batches on readiness, and can pause itself for a
/// moment when the process runs out of descriptors.
final class ListenerSocket: LoopEventHandler, LoopTimerTarget {
    /// The worker outlives its listeners.
    unowned(unsafe) let worker: Worker
    private(set) var fd: Int32
    let bindingID: Int
    /// The listener it serves (changed by a reload that moves the address to a listener of another name).
    var listenerName: String
    /// The context handshakes on this socket start with, from the worker's current table (nil: the table
    /// does not serve this listener, connections are refused). Refreshed on every reload.
    var context: Context?
    var token = EventLoop.Token.none
    var timerState = LoopTimerState()
    /// Accepting is paused until the timer fires (descriptor exhaustion without a reserve descriptor).
    var paused = false

    init(worker: Worker, socket: BoundSocket, context: Context?) {
        self.worker = worker
        self.fd = socket.fd
        self.bindingID = socket.bindingID
        self.listenerName = socket.listener
        self.context = context
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
