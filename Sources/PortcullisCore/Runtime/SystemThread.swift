internal import CPortcullisSystem
internal import Glibc
import Synchronization

/// A POSIX thread running one closure, for the proxy's long-lived threads (workers, the health checker, the
/// name resolver, the metrics endpoint): each is joined when it is stopped, which Foundation's `Thread`
/// cannot do. The new thread blocks SIGHUP, SIGTERM and SIGINT: they belong to the control thread's
/// signalfd, and a thread that left them unblocked would take their default action (exit) instead.
final class SystemThread {
    /// The closure, carried across `pthread_create` (which takes one raw pointer).
    private final class Start {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    private var handle: pthread_t?

    /// Starts `body` on a new thread. It keeps whatever it captures alive until it returns.
    init(_ body: @escaping @Sendable () -> Void) throws {
        let start = Unmanaged.passRetained(Start(body)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { argument in
            let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
            let signals = [portcullis_SIGHUP, portcullis_SIGTERM, portcullis_SIGINT]
            signals.withUnsafeBufferPointer { _ = portcullis_block_signals($0.baseAddress, Int32($0.count)) }
            start.body()
            return nil
        }, start)
        guard result == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            throw SystemCallError("pthread_create", code: result)
        }
        self.handle = handle
    }

    /// Waits for the thread to return; later calls return at once.
    func join() {
        guard let handle else { return }
        pthread_join(handle, nil)
        self.handle = nil
    }
}

/// A `SystemThread` for a background loop that waits in `poll(2)` (the health checker, the name resolver):
/// it owns an eventfd the loop polls along with its own descriptors, and `stop()` sets `isStopping`, wakes
/// the loop and joins it.
final class StoppableThread: @unchecked Sendable {
    /// Readable when the loop should look at `isStopping` (or do a round now): poll it, then `drainWake()`.
    let wakeFD: Int32
    private let stopping = Atomic<Bool>(false)
    private var thread: SystemThread?

    init() throws {
        let fd = portcullis_eventfd_create()
        guard fd >= 0 else { throw SystemCallError.last("eventfd") }
        wakeFD = fd
    }

    deinit { close(wakeFD) }

    /// True once `stop()` was called: the loop must return.
    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Runs `loop` on a new thread.
    func start(_ loop: @escaping @Sendable () -> Void) throws {
        thread = try SystemThread(loop)
    }

    /// Makes `wakeFD` readable. Safe from any thread.
    func wake() { portcullis_eventfd_signal(wakeFD) }

    /// Resets `wakeFD` after the loop saw it readable.
    func drainWake() { _ = portcullis_eventfd_drain(wakeFD) }

    /// Asks the loop to return and waits until it has. Call it from the thread that called `start`.
    func stop() {
        stopping.store(true, ordering: .releasing)
        wake()
        thread?.join()
        thread = nil
    }
}
