internal import CPortcullisSystem
internal import Glibc

/// An IPv4, IPv6 or unix-domain socket address: the bytes `bind`, `connect` and `accept` use, kept inline (no
/// allocation) so every connection can carry its peer's address for logs and the PROXY header.
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    /// The address family.
    public enum Family: Sendable, Equatable { case ipv4, ipv6, unix, other }

    /// The raw `sockaddr_storage`; only the first `length` bytes are meaningful.
    var storage: sockaddr_storage
    /// `socklen_t` length of the address in `storage`.
    var length: socklen_t

    /// An address from raw storage (as filled by `accept`, `getsockname`).
    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    /// A numeric IPv4 or IPv6 address and port. Returns nil if `host` is not a numeric address (no DNS).
    public init?(numericHost host: String, port: UInt16) {
        var storage = sockaddr_storage()
        var ipv4 = in_addr()
        if inet_pton(AF_INET, host, &ipv4) == 1 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr = ipv4
            withUnsafeBytes(of: &address) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            self.init(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in>.size))
            return
        }
        var ipv6 = in6_addr()
        if inet_pton(AF_INET6, host, &ipv6) == 1 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            address.sin6_addr = ipv6
            withUnsafeBytes(of: &address) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            self.init(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
            return
        }
        return nil
    }

    /// A unix-domain socket path. Returns nil when the path does not fit `sun_path` (107 bytes).
    public init?(unixPath path: String) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        var storage = sockaddr_storage()
        withUnsafeBytes(of: &address) { source in
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
        }
        let length = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count + 1
        self.init(storage: storage, length: socklen_t(length))
    }

    /// Resolves a backend `host:port`: numeric addresses directly, names with `getaddrinfo` (blocking: the
    /// runtime calls it through `BackendAddressBook`, off the event loops). Returns every address, in
    /// resolver order.
    static func resolve(host: String, port: UInt16) -> [SocketAddress] {
        if let numeric = SocketAddress(numericHost: host, port: port) { return [numeric] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let raw = entry.pointee.ai_addr, Int(entry.pointee.ai_addrlen) <= MemoryLayout<sockaddr_storage>.size {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: Int(entry.pointee.ai_addrlen)))
                }
                addresses.append(SocketAddress(storage: storage, length: entry.pointee.ai_addrlen))
            }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }

    /// The address family.
    public var family: Family {
        switch Int32(storage.ss_family) {
        case AF_INET: return .ipv4
        case AF_INET6: return .ipv6
        case AF_UNIX: return .unix
        default: return .other
        }
    }

    /// The `AF_*` value, for `socket(2)`.
    var domain: Int32 { Int32(storage.ss_family) }

    /// The port (host byte order) of an IP address; nil for unix sockets.
    public var port: UInt16? {
        switch family {
        case .ipv4: return withIPv4 { UInt16(bigEndian: $0.sin_port) }
        case .ipv6: return withIPv6 { UInt16(bigEndian: $0.sin6_port) }
        default: return nil
        }
    }

    /// The same address with another port (IP families only; others are returned unchanged).
    func withPort(_ port: UInt16) -> SocketAddress {
        var copy = self
        switch family {
        case .ipv4:
            withUnsafeMutableBytes(of: &copy.storage) { raw in
                raw.storeBytes(of: port.bigEndian, toByteOffset: MemoryLayout<sockaddr_in>.offset(of: \sockaddr_in.sin_port)!, as: UInt16.self)
            }
        case .ipv6:
            withUnsafeMutableBytes(of: &copy.storage) { raw in
                raw.storeBytes(of: port.bigEndian, toByteOffset: MemoryLayout<sockaddr_in6>.offset(of: \sockaddr_in6.sin6_port)!, as: UInt16.self)
            }
        default: break
        }
        return copy
    }

    /// The 4 (IPv4) or 16 (IPv6) address bytes in network order; empty for other families.
    public var addressBytes: [UInt8] {
        switch family {
        case .ipv4: return withIPv4 { address in withUnsafeBytes(of: address.sin_addr) { Array($0) } }
        case .ipv6: return withIPv6 { address in withUnsafeBytes(of: address.sin6_addr) { Array($0) } }
        default: return []
        }
    }

    /// For an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack listener reports for IPv4
    /// clients), the plain IPv4 address with the same port; nil otherwise.
    public var unmappedIPv4: SocketAddress? {
        guard family == .ipv6 else { return nil }
        let bytes = addressBytes
        guard bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF, let port else { return nil }
        return SocketAddress(numericHost: "\(bytes[12]).\(bytes[13]).\(bytes[14]).\(bytes[15])", port: port)
    }

    /// The numeric host: `192.0.2.1`, `2001:db8::1` (canonical RFC 5952 form from `inet_ntop`), or the unix path.
    public var hostText: String {
        switch family {
        case .ipv4:
            return withIPv4 { address in
                var addr = address.sin_addr
                return Self.ntop(AF_INET, &addr, Int(INET_ADDRSTRLEN))
            }
        case .ipv6:
            return withIPv6 { address in
                var addr = address.sin6_addr
                return Self.ntop(AF_INET6, &addr, Int(INET6_ADDRSTRLEN))
            }
        case .unix:
            return withUnsafeBytes(of: storage) { raw in
                let offset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
                let end = min(Int(length), MemoryLayout<sockaddr_un>.size)
                guard end > offset else { return "" }
                let path = raw[offset..<end].prefix { $0 != 0 }
                return String(decoding: path, as: UTF8.self)
            }
        case .other:
            return "family-\(storage.ss_family)"
        }
    }

    /// `192.0.2.1:443`, `[2001:db8::1]:443` or `unix:/path`.
    public var description: String {
        switch family {
        case .ipv4: return "\(hostText):\(port ?? 0)"
        case .ipv6: return "[\(hostText)]:\(port ?? 0)"
        case .unix: return "unix:\(hostText)"
        case .other: return hostText
        }
    }

    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        guard lhs.length == rhs.length else { return false }
        return withUnsafeBytes(of: lhs.storage) { left in
            withUnsafeBytes(of: rhs.storage) { right in
                memcmp(left.baseAddress!, right.baseAddress!, Int(lhs.length)) == 0
            }
        }
    }

    /// Runs `body` with the address as a `sockaddr` pointer and its length.
    func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    /// The local address of a socket (`getsockname`), or nil.
    static func local(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutableBytes(of: &storage) { raw in
            getsockname(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        return result == 0 ? SocketAddress(storage: storage, length: length) : nil
    }

    private func withIPv4<Result>(_ body: (sockaddr_in) -> Result) -> Result {
        withUnsafeBytes(of: storage) { body($0.loadUnaligned(as: sockaddr_in.self)) }
    }

    private func withIPv6<Result>(_ body: (sockaddr_in6) -> Result) -> Result {
        withUnsafeBytes(of: storage) { body($0.loadUnaligned(as: sockaddr_in6.self)) }
    }

    private static func ntop(_ family: Int32, _ address: UnsafeRawPointer, _ capacity: Int) -> String {
        var buffer = [CChar](repeating: 0, count: capacity)
        guard inet_ntop(family, address, &buffer, socklen_t(capacity)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
