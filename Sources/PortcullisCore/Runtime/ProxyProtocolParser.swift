internal import Glibc

/// Parses the PROXY protocol header a load balancer sends first on a connection (HAProxy's
/// `doc/proxy-protocol.txt`: version 1 in section 2.1, version 2 in 2.2), the receiving side of
/// `ProxyProtocolHeader`. Both versions are recognised by their signatures.
///
/// The parser works on whatever bytes have arrived so far (the runtime peeks at the socket with `MSG_PEEK`)
/// and says either how long the header is, that more bytes are needed, or why the bytes cannot be a valid
/// header. It reads the bytes in place and allocates nothing, except the message of a refusal.
///
/// What it accepts, and what it makes of it:
/// - v1 `PROXY TCP4 <src> <dst> <sport> <dport>\r\n`, `TCP6` likewise: the addresses. `PROXY UNKNOWN ...\r\n`:
///   none (the connection's own peer stands). At most 107 bytes including the CRLF; single spaces; printable
///   US-ASCII; addresses in the protocol's family; ports 0-65535.
/// - v2 command PROXY with `AF_INET`/`AF_INET6` over `STREAM`: the addresses. `AF_UNSPEC` or `AF_UNIX`, or
///   command LOCAL (the balancer's own health check): none. TLVs are checked for framing and skipped.
///   Versions other than 2, commands other than LOCAL/PROXY, undefined family or transport nibbles,
///   `DGRAM` with PROXY, an address block shorter than its family needs, or a length above
///   `maximumLength` are invalid.
public enum ProxyProtocolParser {
    /// The longest v1 header, CRLF included (the specification's limit).
    public static let maximumV1Length = 107
    /// The longest v2 header accepted, preamble included. The specification allows 16 + 65535 bytes; real
    /// balancers send an address block and a few short TLVs (AWS's VPC endpoint ID, Azure's link ID, an SSL
    /// TLV), far below this. A bound keeps the peek buffer small and a peer from holding one open.
    public static let maximumLength = 4096
    /// The 12-byte v2 signature.
    static let v2Signature = ProxyProtocolHeader.v2Signature
    /// `PROXY ` (v1).
    private static let v1Prefix: [UInt8] = Array("PROXY ".utf8)

    /// A complete, valid header.
    public struct Header: Sendable, Equatable {
        /// 1 or 2.
        public var version: Int
        /// Bytes the header occupies at the start of the stream (what to consume so the next byte is the
        /// client's first).
        public var length: Int
        /// False for v2 LOCAL (a connection the balancer made itself, e.g. a health check).
        public var isProxied: Bool
        /// The original client, or nil when the header carries none (v1 UNKNOWN, v2 LOCAL, `AF_UNSPEC`,
        /// `AF_UNIX`): then the connection's own peer address stands.
        public var source: SocketAddress?
        /// The address the client connected to (on the balancer), when the header carries one.
        public var destination: SocketAddress?
    }

    /// The result of looking at the bytes received so far.
    public enum Outcome: Sendable, Equatable {
        /// The bytes are a valid beginning: wait for more.
        case needMore
        /// A complete header.
        case header(Header)
        /// Not a valid header; the text says why (for the access log).
        case invalid(String)
    }

    /// Parses the bytes received so far.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        guard let first = bytes.first else { return .needMore }
        if first == v1Prefix[0] { return parseV1(bytes) }
        if first == v2Signature[0] { return parseV2(bytes) }
        return .invalid(noSignature(first))
    }

    /// Convenience for tests and tools.
    public static func parse(_ bytes: [UInt8]) -> Outcome {
        bytes.withUnsafeBytes { parse($0) }
    }

    private static func noSignature(_ first: UInt8) -> String {
        // A TLS record (0x16 = handshake) means the balancer is not sending the header at all.
        first == 0x16 ? "no PROXY header: the connection starts with a TLS ClientHello (is the load balancer configured to send the PROXY protocol?)"
            : "not a PROXY protocol header (neither the v1 \"PROXY \" nor the v2 signature)"
    }

    // MARK: Version 1

    private static func parseV1(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        let prefixCount = min(bytes.count, v1Prefix.count)
        for index in 0..<prefixCount where bytes[index] != v1Prefix[index] {
            return .invalid(noSignature(bytes[0]))
        }
        // Find the CR; every byte before it must be printable US-ASCII.
        let limit = min(bytes.count, maximumV1Length)
        var carriageReturn = -1
        for index in 0..<limit {
            let byte = bytes[index]
            if byte == 0x0D { carriageReturn = index; break }
            if byte == 0x0A { return .invalid("v1 header: line feed without a carriage return (the line must end with CRLF)") }
            if byte < 0x20 || byte > 0x7E { return .invalid("v1 header: byte 0x\(hex(byte)) at offset \(index) is not printable US-ASCII") }
        }
        if carriageReturn < 0 {
            if bytes.count >= maximumV1Length { return .invalid("v1 header: no CRLF within \(maximumV1Length) bytes") }
            return .needMore
        }
        let length = carriageReturn + 2
        if length > maximumV1Length { return .invalid("v1 header: no CRLF within \(maximumV1Length) bytes") }
        if bytes.count < length { return .needMore }
        if bytes[carriageReturn + 1] != 0x0A { return .invalid("v1 header: carriage return not followed by a line feed") }
        guard carriageReturn > v1Prefix.count else { return .invalid("v1 header: no protocol after \"PROXY \"") }
        let line = UnsafeRawBufferPointer(rebasing: bytes[v1Prefix.count..<carriageReturn])
        return parseV1Line(line, length: length)
    }

    /// `TCP4 <src> <dst> <sport> <dport>`, `TCP6 ...` or `UNKNOWN[ ...]`.
    private static func parseV1Line(_ line: UnsafeRawBufferPointer, length: Int) -> Outcome {
        if matches(line, "UNKNOWN") && (line.count == 7 || line[7] == 0x20) {
            return .header(Header(version: 1, length: length, isProxied: true, source: nil, destination: nil))
        }
        // Exactly five fields, each separated by one space; read in place (no array of fields).
        guard let protocolField = field(line, from: 0) else { return .invalid(emptyField) }
        let family: Int32
        if protocolField.count == 4 && matches(line, "TCP4") {
            family = AF_INET
        } else if protocolField.count == 4 && matches(line, "TCP6") {
            family = AF_INET6
        } else {
            return .invalid("v1 header: unknown protocol (expected TCP4, TCP6 or UNKNOWN)")
        }
        let shape = "v1 header: expected \"PROXY <TCP4|TCP6> <source> <destination> <source port> <destination port>\""
        guard protocolField.upperBound < line.count else { return .invalid(shape) }
        guard let sourceField = field(line, from: protocolField.upperBound + 1) else { return .invalid(emptyField) }
        guard sourceField.upperBound < line.count else { return .invalid(shape) }
        guard let destinationField = field(line, from: sourceField.upperBound + 1) else { return .invalid(emptyField) }
        guard destinationField.upperBound < line.count else { return .invalid(shape) }
        guard let sourcePortField = field(line, from: destinationField.upperBound + 1) else { return .invalid(emptyField) }
        guard sourcePortField.upperBound < line.count else { return .invalid(shape) }
        guard let destinationPortField = field(line, from: sourcePortField.upperBound + 1) else { return .invalid(emptyField) }
        guard destinationPortField.upperBound == line.count else { return .invalid("v1 header: more than five fields after \"PROXY\"") }
        let fields = (sourceField, destinationField, sourcePortField, destinationPortField)
        guard let sourcePort = port(UnsafeRawBufferPointer(rebasing: line[fields.2])),
              let destinationPort = port(UnsafeRawBufferPointer(rebasing: line[fields.3])) else {
            return .invalid("v1 header: a port is not a decimal number from 0 to 65535")
        }
        guard let source = address(UnsafeRawBufferPointer(rebasing: line[fields.0]), family: family, port: sourcePort),
              let destination = address(UnsafeRawBufferPointer(rebasing: line[fields.1]), family: family, port: destinationPort) else {
            return .invalid(family == AF_INET ? "v1 header: TCP4 with an address that is not a numeric IPv4 address"
                                              : "v1 header: TCP6 with an address that is not a numeric IPv6 address")
        }
        return .header(Header(version: 1, length: length, isProxied: true, source: source, destination: destination))
    }

    private static let emptyField = "v1 header: empty field (fields are separated by exactly one space)"

    /// The field starting at `start` (up to the next space or the end); nil when it is empty.
    private static func field(_ line: UnsafeRawBufferPointer, from start: Int) -> Range<Int>? {
        var end = start
        while end < line.count, line[end] != 0x20 { end += 1 }
        return end > start ? start..<end : nil
    }

    private static func matches(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        let pointer = text.utf8Start
        for index in 0..<count where bytes[index] != pointer[index] { return false }
        return true
    }

    private static func port(_ digits: UnsafeRawBufferPointer) -> UInt16? {
        guard (1...5).contains(digits.count) else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value <= 65535 ? UInt16(value) : nil
    }

    /// A numeric address of `family`, parsed by the C library from a NUL-terminated copy on the stack.
    private static func address(_ text: UnsafeRawBufferPointer, family: Int32, port: UInt16) -> SocketAddress? {
        guard text.count < Int(INET6_ADDRSTRLEN) else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(INET6_ADDRSTRLEN)) { buffer -> SocketAddress? in
            for index in 0..<text.count { buffer[index] = CChar(bitPattern: text[index]) }
            buffer[text.count] = 0
            if family == AF_INET {
                var address = in_addr()
                guard inet_pton(AF_INET, buffer.baseAddress, &address) == 1 else { return nil }
                return withUnsafeBytes(of: address) { SocketAddress(ipv4Bytes: $0, port: port) }
            }
            var address = in6_addr()
            guard inet_pton(AF_INET6, buffer.baseAddress, &address) == 1 else { return nil }
            return withUnsafeBytes(of: address) { SocketAddress(ipv6Bytes: $0, port: port) }
        }
    }

    // MARK: Version 2

    private static func parseV2(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        let prefixCount = min(bytes.count, v2Signature.count)
        for index in 0..<prefixCount where bytes[index] != v2Signature[index] {
            return .invalid("not a PROXY protocol header (bad v2 signature)")
        }
        guard bytes.count >= 16 else { return .needMore }
        let versionCommand = bytes[12]
        guard versionCommand >> 4 == 2 else { return .invalid("v2 header: unsupported version \(versionCommand >> 4)") }
        let command = versionCommand & 0x0F
        guard command <= 1 else { return .invalid("v2 header: unknown command \(command) (expected LOCAL or PROXY)") }
        let familyTransport = bytes[13]
        let family = familyTransport >> 4
        let transport = familyTransport & 0x0F
        guard family <= 3, transport <= 2 else {
            return .invalid("v2 header: undefined address family/transport byte 0x\(hex(familyTransport))")
        }
        let bodyLength = Int(bytes[14]) << 8 | Int(bytes[15])
        let length = 16 + bodyLength
        guard length <= maximumLength else {
            return .invalid("v2 header: length \(length) exceeds the \(maximumLength)-byte limit")
        }
        guard bytes.count >= length else { return .needMore }
        let body = UnsafeRawBufferPointer(rebasing: bytes[16..<length])
        if command == 0 {
            // LOCAL: the balancer's own connection; the specification says to ignore the address block.
            return .header(Header(version: 2, length: length, isProxied: false, source: nil, destination: nil))
        }
        if family != 0 && transport == 2 {
            return .invalid("v2 header: a DGRAM (UDP) address on a stream connection")
        }
        let addressLength: Int
        switch family {
        case 1: addressLength = 12
        case 2: addressLength = 36
        case 3: addressLength = 216
        default: addressLength = 0
        }
        guard body.count >= addressLength else {
            return .invalid("v2 header: length \(body.count) is too short for the \(familyName(family)) address block (\(addressLength) bytes)")
        }
        guard tlvsAreFramed(UnsafeRawBufferPointer(rebasing: body[addressLength...])) else {
            return .invalid("v2 header: a TLV runs past the end of the header")
        }
        var source: SocketAddress?
        var destination: SocketAddress?
        switch family {
        case 1:
            let sourcePort = UInt16(body[8]) << 8 | UInt16(body[9])
            let destinationPort = UInt16(body[10]) << 8 | UInt16(body[11])
            source = SocketAddress(ipv4Bytes: UnsafeRawBufferPointer(rebasing: body[0..<4]), port: sourcePort)
            destination = SocketAddress(ipv4Bytes: UnsafeRawBufferPointer(rebasing: body[4..<8]), port: destinationPort)
        case 2:
            let sourcePort = UInt16(body[32]) << 8 | UInt16(body[33])
            let destinationPort = UInt16(body[34]) << 8 | UInt16(body[35])
            source = SocketAddress(ipv6Bytes: UnsafeRawBufferPointer(rebasing: body[0..<16]), port: sourcePort)
            destination = SocketAddress(ipv6Bytes: UnsafeRawBufferPointer(rebasing: body[16..<32]), port: destinationPort)
        default:
            break  // AF_UNSPEC, AF_UNIX: no IP address to take; the socket's peer stands.
        }
        return .header(Header(version: 2, length: length, isProxied: true, source: source, destination: destination))
    }

    /// Type (1 byte), big-endian length (2 bytes), value; repeated to the end exactly.
    private static func tlvsAreFramed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            guard offset + 3 <= bytes.count else { return false }
            let length = Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
            offset += 3 + length
        }
        return offset == bytes.count
    }

    private static func familyName(_ family: UInt8) -> String {
        switch family {
        case 1: return "AF_INET"
        case 2: return "AF_INET6"
        case 3: return "AF_UNIX"
        default: return "AF_UNSPEC"
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return byte < 0x10 ? "0" + digits : digits
    }
}

extension SocketAddress {
    /// An IPv4 address from its 4 network-order bytes.
    init(ipv4Bytes bytes: UnsafeRawBufferPointer, port: UInt16) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes.prefix(4))) }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { target in withUnsafeBytes(of: address) { target.copyMemory(from: $0) } }
        self.init(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in>.size))
    }

    /// An IPv6 address from its 16 network-order bytes.
    init(ipv6Bytes bytes: UnsafeRawBufferPointer, port: UInt16) {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes.prefix(16))) }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { target in withUnsafeBytes(of: address) { target.copyMemory(from: $0) } }
        self.init(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
    }
}
