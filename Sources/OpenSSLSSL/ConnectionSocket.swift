internal import COpenSSL
internal import COpenSSLShim
internal import Glibc
internal import OpenSSLCrypto

// Thin wrappers over the socket of a socket Connection (pyOpenSSL forwards these to the Python socket).
// Each is one system call; failures throw `SSLError.sysCall(errno, name)`. On a memory-BIO connection they
// throw `wrongTransport`.

extension Connection {
    /// `how` values for `sockShutdown`.
    public static let SHUT_RD: Int32 = Int32(Glibc.SHUT_RD)
    public static let SHUT_WR: Int32 = Int32(Glibc.SHUT_WR)
    public static let SHUT_RDWR: Int32 = Int32(Glibc.SHUT_RDWR)

    /// The socket descriptor, or `wrongTransport` / `EBADF` after `close()`.
    /// Every socket helper starts here, which also clears the thread's OpenSSL error queue: a helper's
    /// `sysCall` error must not leave an earlier call's entries behind.
    private func descriptor(_ call: String) throws(SSLError) -> Int32 {
        OpenSSLErrorQueue.clear()
        guard case .socket = transport else {
            throw SSLError.wrongTransport("Connection.\(call) needs a socket connection (this one uses memory BIOs)")
        }
        guard socketDescriptor >= 0 else { throw SSLError.sysCall(errno: EBADF, message: errnoName(EBADF)) }
        return socketDescriptor
    }

    private static func systemError() -> SSLError {
        let code = errno
        return SSLError.sysCall(errno: code, message: errnoName(code))
    }

    /// The socket's file descriptor (`fileno`).
    public func fileno() throws -> Int32 { try descriptor("fileno") }

    /// Binds the socket (`bind`).
    public func bind(_ address: SocketAddress) throws {
        let fd = try descriptor("bind")
        let status = try address.withSockAddr { Glibc.bind(fd, $0, $1) }
        guard status == 0 else { throw Connection.systemError() }
    }

    /// Starts listening (`listen`).
    public func listen(_ backlog: Int32) throws {
        guard Glibc.listen(try descriptor("listen"), backlog) == 0 else { throw Connection.systemError() }
    }

    /// Accepts a TCP connection (`accept`): a new server-side Connection on the same Context (in accept state)
    /// and the peer's address. The new descriptor copies the listener's `O_NONBLOCK` flag and is close-on-exec;
    /// the caller owns it (close it with the new Connection's `close()`).
    public func accept() throws -> (Connection, SocketAddress) {
        let listener = try descriptor("accept")
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var fd: Int32 = -1
        for _ in 0..<100 {
            fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(listener, $0, &length) }
            }
            if fd >= 0 || errno != EINTR { break }
        }
        guard fd >= 0 else { throw Connection.systemError() }
        do {
            let listenerFlags = fcntl(listener, F_GETFL)
            if listenerFlags >= 0, listenerFlags & O_NONBLOCK != 0 {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            }
            _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
            let address = try SocketAddress(storage: storage, length: length)
            let connection = try Connection(context: context, socket: fd)
            connection.setAcceptState()
            return (connection, address)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Puts the connection in client mode and connects the socket (`connect`). On a non-blocking socket
    /// this throws `sysCall(EINPROGRESS, ...)`; wait for writability, then drive the handshake.
    public func connect(_ address: SocketAddress) throws {
        let code = try connectEx(address)
        guard code == 0 else { throw SSLError.sysCall(errno: code, message: errnoName(code)) }
    }

    /// Like `connect`, but returns the errno (0 on success) instead of throwing (`connect_ex`).
    public func connectEx(_ address: SocketAddress) throws -> Int32 {
        let fd = try descriptor("connectEx")
        setConnectState()
        let status = try address.withSockAddr { Glibc.connect(fd, $0, $1) }
        return status == 0 ? 0 : errno
    }

    /// The peer's address (`getpeername`).
    public func getpeername() throws -> SocketAddress {
        let fd = try descriptor("getpeername")
        return try Connection.address { Glibc.getpeername(fd, $0, $1) }
    }

    /// The local address (`getsockname`).
    public func getsockname() throws -> SocketAddress {
        let fd = try descriptor("getsockname")
        return try Connection.address { Glibc.getsockname(fd, $0, $1) }
    }

    private static func address(
        _ call: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call($0, &length) }
        }
        guard status == 0 else { throw systemError() }
        return try SocketAddress(storage: storage, length: length)
    }

    /// Switches the socket between blocking and non-blocking mode (`setblocking`, `O_NONBLOCK`).
    public func setblocking(_ blocking: Bool) throws {
        let fd = try descriptor("setblocking")
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0 else { throw Connection.systemError() }
        let updated = blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK
        guard fcntl(fd, F_SETFL, updated) == 0 else { throw Connection.systemError() }
    }

    /// An integer socket option (`getsockopt(level, option)`), e.g. `SOL_SOCKET`/`SO_RCVBUF`.
    public func getsockopt(level: Int32, option: Int32) throws -> Int32 {
        let fd = try descriptor("getsockopt")
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard Glibc.getsockopt(fd, level, option, &value, &length) == 0 else { throw Connection.systemError() }
        return value
    }

    /// A socket option as raw bytes (`getsockopt(level, option, buflen)`), at most `length` bytes.
    public func getsockopt(level: Int32, option: Int32, length: Int) throws -> [UInt8] {
        let fd = try descriptor("getsockopt")
        guard length >= 0 else { throw SSLError.invalidArgument("length must not be negative") }
        var size = socklen_t(length)
        var bytes = [UInt8](repeating: 0, count: length)
        let status = bytes.withUnsafeMutableBytes { Glibc.getsockopt(fd, level, option, $0.baseAddress, &size) }
        guard status == 0 else { throw Connection.systemError() }
        return Array(bytes.prefix(Int(size)))
    }

    /// Sets an integer socket option (`setsockopt`), e.g. `IPPROTO_TCP`/`TCP_NODELAY` to 1.
    public func setsockopt(level: Int32, option: Int32, value: Int32) throws {
        let fd = try descriptor("setsockopt")
        var value = value
        guard Glibc.setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw Connection.systemError()
        }
    }

    /// Sets a socket option from raw bytes (`setsockopt` with a bytes value).
    public func setsockopt(level: Int32, option: Int32, bytes: [UInt8]) throws {
        let fd = try descriptor("setsockopt")
        let status = bytes.withUnsafeBytes { Glibc.setsockopt(fd, level, option, $0.baseAddress, socklen_t($0.count)) }
        guard status == 0 else { throw Connection.systemError() }
    }

    /// Shuts down one or both directions of the socket (`sock_shutdown`, `shutdown(2)`), without any TLS
    /// close_notify. `how` is `Connection.SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
    public func sockShutdown(_ how: Int32) throws {
        guard Glibc.shutdown(try descriptor("sockShutdown"), how) == 0 else { throw Connection.systemError() }
    }

    /// Closes the socket (`close`). OpenSSL is detached from the descriptor first, so later I/O on this
    /// Connection fails with `EBADF` instead of touching a reused descriptor number. Closing twice is a no-op.
    public func close() throws {
        OpenSSLErrorQueue.clear()
        guard case .socket = transport else {
            throw SSLError.wrongTransport("Connection.close needs a socket connection (this one uses memory BIOs)")
        }
        let fd = socketDescriptor
        guard fd >= 0 else { return }
        if let bio = SSL_get_rbio(pointer) { _ = portcullis_conn_BIO_set_fd(bio, -1) }
        socketDescriptor = -1
        guard Glibc.close(fd) == 0 else { throw Connection.systemError() }
    }
}
