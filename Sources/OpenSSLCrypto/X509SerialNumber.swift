/// An arbitrary-size certificate serial number (pyOpenSSL uses Python `int`s; serials are often 128+ bits).
///
/// Stored as a sign and a big-endian magnitude without leading zero bytes (`[]` is zero). Serials read from
/// certificates may be negative (malformed but parseable); `X509.setSerialNumber(_:)` accepts only
/// non-negative values, as pyOpenSSL does.
public struct X509SerialNumber: Hashable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// Big-endian magnitude, no leading zero bytes; empty for zero.
    public let magnitude: [UInt8]
    /// True for a negative value (never for zero).
    public let isNegative: Bool

    /// A value from its big-endian magnitude (leading zero bytes are dropped).
    public init(bigEndianMagnitude bytes: some Collection<UInt8>, negative: Bool = false) {
        let trimmed = Array(bytes.drop { $0 == 0 })
        magnitude = trimmed
        isNegative = negative && !trimmed.isEmpty
    }

    public init(_ value: UInt64) {
        var bytes: [UInt8] = []
        var rest = value
        while rest != 0 {
            bytes.insert(UInt8(truncatingIfNeeded: rest), at: 0)
            rest >>= 8
        }
        self.init(bigEndianMagnitude: bytes)
    }

    public init(_ value: Int) {
        let base = X509SerialNumber(UInt64(value.magnitude))
        self.init(bigEndianMagnitude: base.magnitude, negative: value < 0)
    }

    /// Literals are `Int`s, so `-5` is representable; larger values come from `init(hex:)` or the magnitude.
    public init(integerLiteral value: Int) {
        self.init(value)
    }

    /// Parses hexadecimal digits (either case, optional `-` sign, optional `0x` prefix), e.g.
    /// `"100000000000000000000000000000001"` for 2^128+1. Nil for anything else.
    public init?(hex: String) {
        var text = Substring(hex)
        var negative = false
        if text.hasPrefix("-") {
            negative = true
            text = text.dropFirst()
        }
        if text.hasPrefix("0x") || text.hasPrefix("0X") { text = text.dropFirst(2) }
        guard !text.isEmpty else { return nil }
        var nibbles: [UInt8] = []
        nibbles.reserveCapacity(text.utf8.count)
        for char in text.utf8 {
            switch char {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibbles.append(char - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibbles.append(char - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibbles.append(char - UInt8(ascii: "A") + 10)
            default: return nil
            }
        }
        if nibbles.count % 2 == 1 { nibbles.insert(0, at: 0) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(nibbles.count / 2)
        var index = 0
        while index < nibbles.count {
            bytes.append(nibbles[index] << 4 | nibbles[index + 1])
            index += 2
        }
        self.init(bigEndianMagnitude: bytes, negative: negative)
    }

    /// True for zero.
    public var isZero: Bool { magnitude.isEmpty }

    /// Uppercase hexadecimal without leading zeros (`"0"` for zero, `-` prefix when negative), the form
    /// OpenSSL's `BN_bn2hex` and `openssl x509 -serial` use (minus their leading-zero padding).
    public var hexString: String {
        guard let first = magnitude.first else { return "0" }
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = isNegative ? [UInt8(ascii: "-")] : []
        if first >> 4 != 0 { out.append(digits[Int(first >> 4)]) }
        out.append(digits[Int(first & 0xF)])
        for byte in magnitude.dropFirst() {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decimal digits, e.g. `"340282366920938463463374607431768211457"` for 2^128+1.
    public var decimalString: String {
        guard !magnitude.isEmpty else { return "0" }
        var number = magnitude
        var digits: [UInt8] = []
        // Repeated long division by 10 over the big-endian bytes.
        while !number.isEmpty {
            var remainder = 0
            var quotient: [UInt8] = []
            quotient.reserveCapacity(number.count)
            for byte in number {
                let current = remainder << 8 | Int(byte)
                let q = current / 10
                remainder = current % 10
                if !(quotient.isEmpty && q == 0) { quotient.append(UInt8(q)) }
            }
            digits.append(UInt8(ascii: "0") + UInt8(remainder))
            number = quotient
        }
        if isNegative { digits.append(UInt8(ascii: "-")) }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }

    /// The value as `UInt64` when it is non-negative and fits, nil otherwise.
    public var uint64Value: UInt64? {
        guard !isNegative, magnitude.count <= 8 else { return nil }
        return magnitude.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The decimal form, as Python prints the integer.
    public var description: String { decimalString }
}
