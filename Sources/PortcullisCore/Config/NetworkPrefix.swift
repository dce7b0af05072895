#if canImport(Glibc)
internal import Glibc
#endif

/// An IPv4 or IPv6 network written as a CIDR prefix (`10.0.0.0/8`, `2001:db8::/32`) or a single address
/// (`192.0.2.7`, `::1`): one entry of a listener's `proxy_sources`.
///
/// Both families are kept as 128-bit values, IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`, prefix + 96), so an
/// IPv4 entry also matches the IPv4 clients a dual-stack (`[::]`) listener reports as mapped addresses, and
/// matching is two masked 64-bit compares with no allocation.
public struct NetworkPrefix: Sendable, Hashable, CustomStringConvertible {
    /// The network address, high and low 64 bits of the 128-bit (mapped) form, host bits zero.
    let high: UInt64
    let low: UInt64
    /// Prefix length in the 128-bit form (96 + n for IPv4 /n).
    let length: Int
    /// The entry as written in the configuration.
    public let description: String

    /// Parses `address` or `address/length`. Host bits set below the prefix (`10.0.0.1/8`) are refused: such
    /// an entry is nearly always a typo, and silently widening or narrowing it would let the wrong sources in.
    public static func parse(_ text: String) -> Result<NetworkPrefix, AddressParseError> {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let addressText = String(parts[0])
        var bytes = [UInt8](repeating: 0, count: 16)
        let isIPv4: Bool
        var ipv4 = in_addr()
        var ipv6 = in6_addr()
        if inet_pton(AF_INET, addressText, &ipv4) == 1 {
            isIPv4 = true
            bytes[10] = 0xFF
            bytes[11] = 0xFF
            withUnsafeBytes(of: ipv4) { for index in 0..<4 { bytes[12 + index] = $0[index] } }
        } else if inet_pton(AF_INET6, addressText, &ipv6) == 1 {
            isIPv4 = false
            withUnsafeBytes(of: ipv6) { for index in 0..<16 { bytes[index] = $0[index] } }
        } else {
            return .failure(AddressParseError(
                "'\(addressText)' is not a numeric IPv4 or IPv6 address (expected e.g. \"10.0.0.0/8\", \"192.0.2.7\" or \"2001:db8::/32\")"))
        }
        let maximum = isIPv4 ? 32 : 128
        var prefixLength = maximum
        if parts.count == 2 {
            guard let value = Int(parts[1]), parts[1].allSatisfy(\.isASCII), (0...maximum).contains(value) else {
                return .failure(AddressParseError("prefix length '/\(parts[1])' is not a number from 0 to \(maximum)"))
            }
            prefixLength = value
        }
        let length = isIPv4 ? prefixLength + 96 : prefixLength
        let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let (highMask, lowMask) = Self.masks(length)
        guard high & ~highMask == 0, low & ~lowMask == 0 else {
            let network = Self.text(high: high & highMask, low: low & lowMask, ipv4: isIPv4)
            return .failure(AddressParseError(
                "'\(text)' has bits set after the first \(prefixLength) (did you mean \"\(network)/\(prefixLength)\"?)"))
        }
        return .success(NetworkPrefix(high: high, low: low, length: length, description: text))
    }

    /// True when `address` (an IPv4 or IPv6 socket address) is inside this network. Other families never match.
    func contains(_ address: SocketAddress) -> Bool {
        guard let (high, low) = Self.mappedBits(of: address) else { return false }
        let (highMask, lowMask) = Self.masks(length)
        return high & highMask == self.high && low & lowMask == self.low
    }

    /// True when a raw address (4 bytes IPv4 or 16 bytes IPv6, network order, as a certificate's
    /// subjectAltName iPAddress stores it) is inside this network. Other lengths never match.
    func contains(addressBytes bytes: [UInt8]) -> Bool {
        let high: UInt64
        let low: UInt64
        switch bytes.count {
        case 4:
            high = 0
            low = bytes.reduce(UInt64(0xFFFF)) { $0 << 8 | UInt64($1) }
        case 16:
            high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        default:
            return false
        }
        let (highMask, lowMask) = Self.masks(length)
        return high & highMask == self.high && low & lowMask == self.low
    }

    /// The usual text of a raw 4- or 16-byte address (`192.0.2.7`, `2001:db8::1`); `<n bytes>` otherwise.
    static func addressText(_ bytes: [UInt8]) -> String {
        switch bytes.count {
        case 4:
            return bytes.map(String.init).joined(separator: ".")
        case 16:
            let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return text(high: high, low: low, ipv4: false)
        default:
            return "<\(bytes.count) bytes>"
        }
    }

    /// The 128-bit (IPv4-mapped for IPv4) form of an IP socket address, read in place.
    static func mappedBits(of address: SocketAddress) -> (UInt64, UInt64)? {
        withUnsafeBytes(of: address.storage) { raw -> (UInt64, UInt64)? in
            switch Int32(address.storage.ss_family) {
            case AF_INET:
                let offset = MemoryLayout<sockaddr_in>.offset(of: \sockaddr_in.sin_addr)!
                var value: UInt64 = 0
                for index in 0..<4 { value = value << 8 | UInt64(raw[offset + index]) }
                return (0, 0xFFFF_0000_0000 | value)
            case AF_INET6:
                let offset = MemoryLayout<sockaddr_in6>.offset(of: \sockaddr_in6.sin6_addr)!
                var high: UInt64 = 0
                var low: UInt64 = 0
                for index in 0..<8 { high = high << 8 | UInt64(raw[offset + index]) }
                for index in 8..<16 { low = low << 8 | UInt64(raw[offset + index]) }
                return (high, low)
            default:
                return nil
            }
        }
    }

    private static func masks(_ length: Int) -> (UInt64, UInt64) {
        let high: UInt64 = length >= 64 ? .max : (length == 0 ? 0 : ~UInt64(0) << (64 - length))
        let low: UInt64 = length <= 64 ? 0 : (length >= 128 ? .max : ~UInt64(0) << (128 - length))
        return (high, low)
    }

    private static func text(high: UInt64, low: UInt64, ipv4: Bool) -> String {
        if ipv4 {
            return (0..<4).map { String((low >> (8 * (3 - $0))) & 0xFF) }.joined(separator: ".")
        }
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { raw in
            for index in 0..<8 { raw[index] = UInt8((high >> (8 * (7 - index))) & 0xFF) }
            for index in 0..<8 { raw[8 + index] = UInt8((low >> (8 * (7 - index))) & 0xFF) }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
