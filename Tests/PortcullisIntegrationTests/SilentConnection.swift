import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection to 127.0.0.1:`port` that never speaks TLS (it holds a slot in the proxy until the
/// handshake timeout), from the loopback address `source`. Returns the descriptor; the caller closes it.
func silentConnection(_ port: UInt16, from source: String = "127.0.0.1") -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    if source != "127.0.0.1" {
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        _ = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
    _ = connectLoopback(fd, port: port)
    return fd
}

/// `connect(2)` of `fd` to 127.0.0.1:`port`: 0, or -1 with `errno` set.
func connectLoopback(_ fd: Int32, port: UInt16) -> Int32 {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

/// Seconds until the peer closes `fd` (recv returns 0 or an error such as a reset), or nil after `limit`.
func secondsUntilClosed(_ fd: Int32, limit: Double) -> Double? {
    var timeout = timeval(tv_sec: Int(limit), tv_usec: Int(limit.truncatingRemainder(dividingBy: 1) * 1_000_000))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let start = Date()
    var byte: UInt8 = 0
    while true {
        let n = recv(fd, &byte, 1, 0)
        if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { return Date().timeIntervalSince(start) }
        if n < 0 && errno == EAGAIN { return nil }
    }
}
