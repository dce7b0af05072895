internal import CPortcullisSystem
internal import Glibc
import Logging

/// Resolves the backend names of a `BackendAddressBook` again every `backend_resolve_interval`, on a thread
/// of its own: `getaddrinfo` blocks for as long as the DNS server takes, which must never be an event loop's
/// time. Between rounds it sleeps in `poll(2)` on an eventfd, so `stop()` ends it at once.
///
/// Logs: info when a name's addresses change, a warning when a name stops resolving (once, until it resolves
/// again; it keeps its last addresses meanwhile). `onChange` runs on this thread after a round that changed
/// some name's addresses (the server then moves the active health checks to them).
final class BackendResolver: @unchecked Sendable {
    let interval: UInt64
    private let book: BackendAddressBook
    private let logger: Logger
    private let onChange: @Sendable () -> Void
    private let runner: StoppableThread

    /// `interval`: nanoseconds between rounds (at least 1 ms).
    init(book: BackendAddressBook, interval: UInt64, logger: Logger, onChange: @escaping @Sendable () -> Void = {}) throws {
        self.book = book
        self.interval = max(1_000_000, interval)
        self.logger = logger
        self.onChange = onChange
        runner = try StoppableThread()
    }

    /// Starts the thread; its first round is one interval from now (`prepare` has just resolved every name).
    func start() throws {
        try runner.start { [self] in threadMain() }
    }

    /// Starts a round now instead of at the end of the interval (after a reload, for the names it kept).
    func refreshNow() {
        runner.wake()
    }

    /// Stops the thread and waits for it (a lookup in progress finishes first). Call it from the thread that
    /// called `start`.
    func stop() {
        runner.stop()
    }

    private func threadMain() {
        var failing: Set<BackendAddress> = []
        let wait = Int32(clamping: interval / 1_000_000)
        while !runner.isStopping {
            var wake = pollfd(fd: runner.wakeFD, events: Int16(POLLIN), revents: 0)
            if poll(&wake, 1, wait) > 0 { runner.drainWake() }
            if runner.isStopping { break }
            let (changes, unresolved) = book.refresh()
            for change in changes {
                logger.info("backend \(change.backend) now resolves to \(Self.list(change.new)) (was \(Self.list(change.old)))")
            }
            if !changes.isEmpty { onChange() }
            let newlyFailing = Set(unresolved).subtracting(failing)
            for backend in newlyFailing.sorted(by: { $0.description < $1.description }) {
                let kept = book.known(backend) ?? []
                let consequence = kept.isEmpty ? "its host has no address for it yet" : "still using \(Self.list(kept))"
                logger.warning("backend \(backend) does not resolve; \(consequence)")
            }
            for backend in failing.subtracting(unresolved) {
                guard let addresses = book.known(backend) else { continue }
                logger.info("backend \(backend) resolves again: \(Self.list(addresses))")
            }
            failing = Set(unresolved)
        }
    }

    private static func list(_ addresses: [SocketAddress]) -> String {
        addresses.isEmpty ? "nothing" : addresses.map(\.description).joined(separator: ", ")
    }
}
