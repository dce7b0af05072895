/// SNI name lookup: exact names first, then the wildcard covering the name.
///
/// Wildcards follow RFC 6125 and HAProxy: `*.example.com` stands for exactly one label, so it matches
/// `a.example.com` but neither `example.com` nor `a.b.example.com`. For a given name there is therefore at
/// most one candidate wildcard (its own first label replaced by `*`), which is also the most specific one:
/// `*.b.example.com` is the only wildcard that can match `a.b.example.com`.
///
/// Immutable after construction; lookups do not lock and are safe from any thread.
public struct ServerNameTable<Value: Sendable>: Sendable {
    private var exact: [String: Value] = [:]
    /// Keyed by the part after `*.` (`example.com` for `*.example.com`).
    private var wildcards: [String: Value] = [:]

    public init() {}

    /// Why a name cannot be added.
    public enum InsertError: Error, Equatable, Sendable {
        /// The normalized name is already in the table.
        case duplicate(String)
        /// Not a host name or a one-label leading wildcard.
        case invalid(String, reason: String)
    }

    /// Adds `name` (exact or `*.suffix`). Names are compared case-insensitively, without a trailing dot.
    public mutating func insert(_ name: String, value: Value) throws(InsertError) {
        let normalized = try Self.validate(name)
        if normalized.hasPrefix("*.") {
            let suffix = String(normalized.dropFirst(2))
            guard wildcards[suffix] == nil else { throw .duplicate(normalized) }
            wildcards[suffix] = value
        } else {
            guard exact[normalized] == nil else { throw .duplicate(normalized) }
            exact[normalized] = value
        }
    }

    /// The value for a client's SNI name: exact match, else the one-label wildcard, else nil.
    public func lookup(_ name: String) -> Value? {
        var name = name.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        if let value = exact[name] { return value }
        guard let dot = name.firstIndex(of: "."), dot != name.startIndex else { return nil }
        let parent = name[name.index(after: dot)...]
        guard !parent.isEmpty else { return nil }
        return wildcards[String(parent)]
    }

    /// Every name in the table (exact and `*.` wildcards), sorted, for logs and `check`.
    public var names: [String] {
        (Array(exact.keys) + wildcards.keys.map { "*." + $0 }).sorted()
    }

    /// Lower-cases, strips one trailing dot, and checks the syntax: labels of letters, digits, `-` and `_`
    /// (1 to 63 bytes each), with `*` allowed only as the whole first label of a name with at least two
    /// more labels (`*.com` is refused: too broad to be intended).
    public static func validate(_ name: String) throws(InsertError) -> String {
        var normalized = name.lowercased()
        if normalized.hasSuffix(".") { normalized.removeLast() }
        guard !normalized.isEmpty, normalized.utf8.count <= 253 else {
            throw .invalid(name, reason: "a host name must be 1 to 253 characters")
        }
        let labels = normalized.split(separator: ".", omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            if label == "*" {
                guard index == 0 else { throw .invalid(name, reason: "'*' is only allowed as the first label (*.example.com)") }
                guard labels.count >= 3 else { throw .invalid(name, reason: "a wildcard needs at least two labels after '*.' (*.example.com)") }
                continue
            }
            guard !label.isEmpty, label.utf8.count <= 63 else {
                throw .invalid(name, reason: "empty or over-long label (labels are 1 to 63 characters)")
            }
            guard label.utf8.allSatisfy({ byte in
                (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F
            }) else {
                throw .invalid(name, reason: label.contains("*")
                    ? "partial-label wildcards like 'w*.example.com' are not supported; use *.example.com"
                    : "only letters, digits, '-' and '_' are allowed in a label (IDNs must be given in punycode)")
            }
        }
        return normalized
    }
}
