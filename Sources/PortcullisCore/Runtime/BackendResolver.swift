internal import CPortcullisSystem
internal import Glibc
import Logging
import Synchronization

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
    private let wakeFD: Int32
    private let stopping = Atomic<Bool>(false)
    private var thread: SystemThread?

    /// `interval`: nanoseconds between rounds (at least 1 ms).
    init(book: BackendAddressBook, interval: UInt64, logger: Logger, onChange: @escaping @Sendable () -> Void = {}) throws {
        self.book = book
        self.interval = max(1_000_000, interval)
        self.logger = logger
        self.onChange = onChange
        let fd = portcullis_eventfd_create()
        guard fd >= 0 else { throw SystemCallError.last("eventfd") }
        wakeFD = fd
    }

    deinit {
        close(wakeFD)
    }

    /// Starts the thread; its first round is one interval from now (`prepare` has just resolved every name).
    func start() throws {
        thread = try SystemThread { [self] in threadMain() }
    }

    /// Starts a round now instead of at the end of the interval (after a reload, for the names it kept).
    func refreshNow() {
        portcullis_eventfd_signal(wakeFD)
    }

    /// Stops the thread and waits for it (a lookup in progress finishes first). Call it from the thread that
    /// called `start`.
    func stop() {
        stopping.store(true, ordering: .releasing)
        portcullis_eventfd_signal(wakeFD)
        thread?.join()
        thread = nil
    }

    private func threadMain() {
        var failing: Set<BackendAddress> = []
        let wait = Int32(clamping: interval / 1_000_000)
        while !stopping.load(ordering: .acquiring) {
            var wake = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
            if poll(&wake, 1, wait) > 0 { _ = portcullis_eventfd_drain(wakeFD) }
            if stopping.load(ordering: .acquiring) { break }
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
