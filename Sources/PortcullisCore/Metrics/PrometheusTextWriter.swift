/// Writes the Prometheus text exposition format, version 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/).
///
/// Hand-written rather than swift-metrics + swift-prometheus: the format is a few lines of text per family,
/// and those packages would add two dependencies (and their transitive ones) to every build, a global
/// metrics system with locks on each update, and an HTTP server we would still have to provide. The proxy's
/// counters are per-worker atomics summed at scrape time, which neither API models.
struct PrometheusTextWriter {
    /// The `Content-Type` of the output.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    enum MetricType: String { case counter, gauge, histogram }

    private(set) var text = ""

    init() {}

    /// Starts a family: its `# HELP` and `# TYPE` lines. Call once per family, before its samples.
    mutating func family(_ name: String, _ type: MetricType, help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type.rawValue)\n"
    }

    /// One sample line: `name{label="value",...} value`.
    mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: UInt64) {
        sample(name, labels.map { ($0.key, $0.value) }, formatted: String(value))
    }

    /// A sample without labels.
    mutating func sample(_ name: String, _ value: UInt64) {
        sample(name, [], formatted: String(value))
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        sample(name, labels, formatted: Self.format(value))
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], formatted value: String) {
        text += name
        if !labels.isEmpty {
            text += "{"
            text += labels.map { "\($0.0)=\"\(Self.escapeLabelValue($0.1))\"" }.joined(separator: ",")
            text += "}"
        }
        text += " \(value)\n"
    }

    /// A histogram family's samples from per-bucket (not cumulative) counts; `counts` has one more element
    /// than `upperBounds` (the +Inf bucket).
    mutating func histogram(_ name: String, upperBounds: [Double], counts: [UInt64], sum: Double) {
        var cumulative: UInt64 = 0
        for (index, bound) in upperBounds.enumerated() {
            cumulative &+= counts[index]
            sample(name + "_bucket", [("le", Self.format(bound))], formatted: String(cumulative))
        }
        cumulative &+= counts[upperBounds.count]
        sample(name + "_bucket", [("le", "+Inf")], formatted: String(cumulative))
        sample(name + "_sum", [], sum)
        sample(name + "_count", [], formatted: String(cumulative))
    }

    /// Label values escape backslash, double quote and line feed.
    static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// HELP text escapes backslash and line feed (not quotes).
    static func escapeHelp(_ value: String) -> String {
        var out = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// Integral values without a fraction (`3`, `1735689600`), others as Swift's shortest round-trip text
    /// (`0.0025`, `1e-05`), and `+Inf`, `-Inf`, `NaN` as the format spells them.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
