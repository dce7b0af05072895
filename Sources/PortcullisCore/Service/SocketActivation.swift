internal import CPortcullisSystem
internal import Glibc

/// One listening socket handed over by systemd (socket activation).
public struct InheritedSocket: Sendable, Equatable, CustomStringConvertible {
    /// The descriptor number (3 and up).
    public let fd: Int32
    /// Its `FileDescriptorName=` from `LISTEN_FDNAMES`, or nil when none was given.
    public let name: String?
    /// Where it is bound (`getsockname`).
    public let address: SocketAddress

    public var description: String {
        "fd \(fd) (" + (name.map { "name \"\($0)\", " } ?? "") + "\(address))"
    }
}

/// Why the inherited sockets cannot be used. The process must not start: serving only some of the sockets
/// systemd passed would leave clients queued on the others forever.
public struct SocketActivationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = "socket activation: " + description }
}

/// Listening sockets passed by systemd (`sd_listen_fds(3)` protocol, implemented here without libsystemd):
/// `LISTEN_PID` (must be this process), `LISTEN_FDS` (count, descriptors from 3) and `LISTEN_FDNAMES`
/// (colon-separated names, from `FileDescriptorName=`).
///
/// How inherited sockets replace the `listen` addresses of the configuration (`assign(to:)`):
/// - A socket whose name equals a `[[listener]] name` belongs to that listener. Once a listener has a socket
///   by name, the `.socket` unit owns its addresses: its `listen` addresses are not bound by the proxy
///   (they still serve to match unnamed sockets).
/// - Otherwise a socket whose address equals a configured `listen` address (same family, IP and port)
///   replaces that address; the listener's other addresses are bound as usual.
/// - A socket matching neither is an error naming it, and so is a socket that is not a listening TCP socket.
///
/// Sockets stay open in systemd while the service restarts, so connections that arrive meanwhile wait in
/// the kernel's accept queue and are served by the next instance.
public struct SocketActivation: Sendable, Equatable {
    /// The sockets, in descriptor order.
    public var sockets: [InheritedSocket]

    public init(sockets: [InheritedSocket]) {
        self.sockets = sockets
    }

    /// The sockets systemd passed to this process, validated, close-on-exec and non-blocking. Unsets
    /// `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` in every case, so no child ever inherits them.
    /// Empty when `LISTEN_PID` is absent or names another process.
    ///
    /// Call it first thing in `main`, before other threads exist (`setenv`/`unsetenv` are not thread-safe).
    public static func fromEnvironment() throws(SocketActivationError) -> SocketActivation {
        let pidText = environment("LISTEN_PID")
        let countText = environment("LISTEN_FDS")
        let namesText = environment("LISTEN_FDNAMES")
        for variable in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(variable) }
        return try inherit(listenPID: pidText, listenFDs: countText, listenFDNames: namesText, ourPID: getpid())
    }

    /// `fromEnvironment` without the environment: validates descriptors 3 ..< 3 + `LISTEN_FDS` of this
    /// process and marks them close-on-exec and non-blocking.
    static func inherit(listenPID: String?, listenFDs: String?, listenFDNames: String?, ourPID: Int32)
        throws(SocketActivationError) -> SocketActivation {
        guard let listenPID else { return SocketActivation(sockets: []) }
        guard let pid = Int32(listenPID), pid > 0 else {
            throw SocketActivationError("LISTEN_PID=\(listenPID) is not a process id")
        }
        // Meant for another process (e.g. inherited through a shell that forked): not ours to take.
        guard pid == ourPID else { return SocketActivation(sockets: []) }
        guard let listenFDs else { return SocketActivation(sockets: []) }
        guard let count = Int32(listenFDs), count >= 0, count <= 65536 else {
            throw SocketActivationError("LISTEN_FDS=\(listenFDs) is not a descriptor count")
        }
        var names: [String?] = Array(repeating: nil, count: Int(count))
        if let listenFDNames, count > 0 {
            let parts = listenFDNames.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == Int(count) else {
                throw SocketActivationError("LISTEN_FDNAMES has \(parts.count) name(s) for LISTEN_FDS=\(count) descriptor(s)")
            }
            names = parts.map { $0.isEmpty ? nil : $0 }
        }
        var sockets: [InheritedSocket] = []
        for offset in 0..<count {
            let fd = 3 + offset
            let label = "fd \(fd)" + (names[Int(offset)].map { " (name \"\($0)\")" } ?? "")
            switch portcullis_is_listening_stream(fd) {
            case 1: break
            case 0: throw SocketActivationError("\(label) is not a listening stream socket (use ListenStream= in the .socket unit, with Accept=no)")
            default: throw SocketActivationError("\(label) is not open although LISTEN_FDS=\(count)")
            }
            guard let address = SocketAddress.local(of: fd) else {
                throw SocketActivationError("\(label): getsockname failed: \(SystemCallError.last("getsockname"))")
            }
            guard address.family == .ipv4 || address.family == .ipv6 else {
                throw SocketActivationError("\(label) is bound to \(address), not to a TCP address (listeners serve TCP)")
            }
            // The proxy starts no children; a worker's accept loop must never block on an empty queue.
            guard portcullis_set_cloexec(fd) == 0, portcullis_set_nonblocking(fd) == 0 else {
                throw SocketActivationError("\(label): \(SystemCallError.last("fcntl"))")
            }
            sockets.append(InheritedSocket(fd: fd, name: names[Int(offset)], address: address))
        }
        return SocketActivation(sockets: sockets)
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Where each listener's sockets come from.
    public struct Assignment: Sendable, Equatable {
        /// Per listener (in configuration order): the inherited sockets it serves.
        public var inherited: [[InheritedSocket]]
        /// Per listener: the configured addresses the proxy still binds itself.
        public var toBind: [[ListenAddress]]
    }

    /// Matches every inherited socket to a listener of `configuration` (by name, else by address); throws
    /// naming the sockets that match none, or a socket named for one listener whose address another
    /// listener also lists.
    public func assign(to configuration: ProxyConfiguration) throws(SocketActivationError) -> Assignment {
        let listeners = configuration.listeners
        var inherited = [[InheritedSocket]](repeating: [], count: listeners.count)
        var byName = [Bool](repeating: false, count: listeners.count)
        var unmatched: [InheritedSocket] = []
        for socket in sockets {
            if let name = socket.name, let index = listeners.firstIndex(where: { $0.name == name }) {
                if let other = listeners.indices.first(where: { $0 != index && Self.lists(listeners[$0], socket.address) }) {
                    throw SocketActivationError("\(socket) is named for listener \(listeners[index].name), but listener \(listeners[other].name) lists its address")
                }
                inherited[index].append(socket)
                byName[index] = true
            } else if let index = listeners.firstIndex(where: { Self.lists($0, socket.address) }) {
                inherited[index].append(socket)
            } else {
                unmatched.append(socket)
            }
        }
        guard unmatched.isEmpty else {
            let known = listeners.map { "\($0.name) (" + $0.addresses.map(\.description).joined(separator: ", ") + ")" }
            throw SocketActivationError(
                unmatched.map(\.description).joined(separator: ", ")
                    + " match(es) no [[listener]] by name (FileDescriptorName=) or by address; listeners: "
                    + (known.isEmpty ? "none" : known.joined(separator: ", ")))
        }
        var toBind = [[ListenAddress]](repeating: [], count: listeners.count)
        for (index, listener) in listeners.enumerated() where !byName[index] {
            toBind[index] = listener.addresses.filter { address in
                !inherited[index].contains { Self.same(address, $0.address) }
            }
        }
        return Assignment(inherited: inherited, toBind: toBind)
    }

    /// Every inherited socket, to close when the process gives up before handing them to workers.
    public func closeAll() {
        for socket in sockets { close(socket.fd) }
    }

    private static func lists(_ listener: ListenerConfiguration, _ address: SocketAddress) -> Bool {
        listener.addresses.contains { same($0, address) }
    }

    /// Same family, IP and port (a configured port 0 never matches: it asks the kernel for a fresh port).
    static func same(_ configured: ListenAddress, _ actual: SocketAddress) -> Bool {
        guard configured.port != 0, let parsed = SocketAddress(numericHost: configured.host, port: configured.port) else {
            return false
        }
        return parsed.family == actual.family && parsed.port == actual.port && parsed.addressBytes == actual.addressBytes
    }
}
