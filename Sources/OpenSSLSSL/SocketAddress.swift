internal import Glibc

/// A socket address for the `Connection` socket helpers (`bind`, `connect`, `accept`, `getpeername`, ...):
/// IPv4, IPv6 or a Unix-domain path.
public enum SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// A dotted-quad IPv4 address and a port.
    case ipv4(host: String, port: UInt16)
    /// An IPv6 address in text form (no brackets), a port, and the flow label and scope id of `sockaddr_in6`.
    case ipv6(host: String, port: UInt16, flowInfo: UInt32 = 0, scopeID: UInt32 = 0)
    /// A Unix-domain socket path (at most 107 bytes; Linux abstract names are not supported).
    case unix(path: String)

    public var description: String {
        switch self {
        case .ipv4(let host, let port): return "\(host):\(port)"
        case .ipv6(let host, let port, _, _): return "[\(host)]:\(port)"
        case .unix(let path): return path
        }
    }

    /// The port of an IP address, nil for a Unix path.
    public var port: UInt16? {
        switch self {
        case .ipv4(_, let port), .ipv6(_, let port, _, _): return port
        case .unix: return nil
        }
    }

    /// Calls `body` with the C form of this address. Unparsable hosts and too-long paths are `invalidArgument`.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) throws(SSLError) -> R {
        var storage = sockaddr_storage()
        let length: socklen_t
        switch self {
        case .ipv4(let host, let port):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
                throw SSLError.invalidArgument("not an IPv4 address: \(host)")
            }
            withUnsafeBytes(of: &address) { raw in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        case .ipv6(let host, let port, let flowInfo, let scopeID):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            address.sin6_flowinfo = flowInfo.bigEndian
            address.sin6_scope_id = scopeID
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else {
                throw SSLError.invalidArgument("not an IPv6 address: \(host)")
            }
            withUnsafeBytes(of: &address) { raw in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        case .unix(let path):
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            let capacity = MemoryLayout.size(ofValue: address.sun_path)
            guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0) else {
                throw SSLError.invalidArgument("Unix socket path must be 1 to \(capacity - 1) bytes without NUL")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
            withUnsafeBytes(of: &address) { raw in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) }
            }
            length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count + 1)
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    /// Decodes a kernel-filled `sockaddr_storage`.
    init(storage: sockaddr_storage, length: socklen_t) throws(SSLError) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let address = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
            var addr = address.sin_addr
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            guard inet_ntop(AF_INET, &addr, &text, socklen_t(text.count)) != nil else {
                throw SSLError.sysCall(errno: errno, message: errnoName(errno))
            }
            self = .ipv4(host: SocketAddress.string(fromNulTerminated: text), port: UInt16(bigEndian: address.sin_port))
        case AF_INET6:
            let address = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
            var addr = address.sin6_addr
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &addr, &text, socklen_t(text.count)) != nil else {
                throw SSLError.sysCall(errno: errno, message: errnoName(errno))
            }
            self = .ipv6(host: SocketAddress.string(fromNulTerminated: text), port: UInt16(bigEndian: address.sin6_port),
                         flowInfo: UInt32(bigEndian: address.sin6_flowinfo), scopeID: address.sin6_scope_id)
        case AF_UNIX:
            let offset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
            let pathLength = Swift.max(0, Int(length) - offset)
            let path: String = withUnsafeBytes(of: &storage) { raw in
                let bytes = raw[offset..<Swift.min(offset + pathLength, raw.count)]
                let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
                return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
            }
            self = .unix(path: path)
        default:
            throw SSLError.invalidArgument("unsupported address family \(storage.ss_family)")
        }
    }

    private static func string(fromNulTerminated chars: [CChar]) -> String {
        let bytes = chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
