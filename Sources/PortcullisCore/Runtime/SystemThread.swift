internal import CPortcullisSystem
internal import Glibc

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
