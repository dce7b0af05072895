internal import Glibc

/// One address a listener serves, as the control thread tracks it across reloads: one `SO_REUSEPORT` socket
/// per worker (or, for a socket inherited from systemd, one duplicate of it per worker).
///
/// A binding is identified by where its sockets come from (`source`), not by the listener's position in the
/// file: a reload keeps the sockets of every address it still lists, even when the listeners were reordered
/// or the address moved to a listener of another name, so no connection is refused while it applies.
struct ListenerBinding: Sendable {
    /// Where the sockets come from.
    enum Source: Hashable, Sendable, CustomStringConvertible {
        /// Bound by the proxy for this configured `listen` address.
        case configured(ListenAddress)
        /// Inherited from systemd (socket activation): this descriptor, never closed or rebound by a reload.
        case inherited(fd: Int32)

        var description: String {
            switch self {
            case .configured(let address): return address.description
            case .inherited(let fd): return "fd \(fd) from systemd"
            }
        }
    }

    /// Unique for the life of the server: how reload messages name this binding's sockets to the workers.
    let id: Int
    /// The listener (`[[listener]] name`) it serves.
    var listener: String
    let source: Source
    /// The bound address (an ephemeral port resolved).
    let address: SocketAddress
    /// The `listen(2)` backlog in force (the configured one; systemd's for an inherited socket).
    var backlog: Int
    /// The socket of each worker, by worker index. The workers own them once they run; the control thread
    /// only calls `listen` on them again (a backlog change) and never closes them after the hand-over.
    let fds: [Int32]

    var inherited: Bool {
        if case .inherited = source { return true }
        return false
    }

    /// Worker `index`'s socket of this binding.
    func socket(forWorker index: Int) -> BoundSocket {
        BoundSocket(fd: fds[index], listener: listener, address: address, bindingID: id, shared: inherited)
    }

    /// Closes every worker's socket (for sockets not yet handed to the workers).
    func closeAll() {
        for fd in fds { close(fd) }
    }
}
