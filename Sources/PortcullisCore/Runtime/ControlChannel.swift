internal import CPortcullisSystem
internal import Glibc
import Synchronization

/// Requests to the control thread (the one in `ProxyServer.run`): reload, drain, "a worker finished", and
/// "backend names resolve to other addresses now".
/// An eventfd wakes the control thread's `poll`; the counters say what happened.
final class ControlChannel: Sendable {
    struct Pending: Sendable {
        var reloads = 0
        var drain = false
        var finishedWorkers = 0
        var backendAddressesChanged = false
    }

    let eventFD: Int32
    private let pending = Mutex(Pending())

    init() throws {
        let fd = portcullis_eventfd_create()
        guard fd >= 0 else { throw SystemCallError.last("eventfd") }
        eventFD = fd
    }

    deinit { close(eventFD) }

    func requestReload() {
        pending.withLock { $0.reloads += 1 }
        portcullis_eventfd_signal(eventFD)
    }

    func requestDrain() {
        pending.withLock { $0.drain = true }
        portcullis_eventfd_signal(eventFD)
    }

    func backendAddressesChanged() {
        pending.withLock { $0.backendAddressesChanged = true }
        portcullis_eventfd_signal(eventFD)
    }

    func workerFinished() {
        pending.withLock { $0.finishedWorkers += 1 }
        portcullis_eventfd_signal(eventFD)
    }

    /// The reloads, drain and address changes requested since the last call (cleared), and the total of
    /// finished workers.
    func take() -> Pending {
        pending.withLock { state in
            let snapshot = state
            state.reloads = 0
            state.drain = false
            state.backendAddressesChanged = false
            return snapshot
        }
    }
}
