internal import TOMLKit

/// Collects diagnostics while a configuration is read, and knows where each key is in the file.
final class DiagnosticSink {
    let file: String
    let locator: SourceLocator
    private(set) var diagnostics: [ConfigurationDiagnostic] = []

    init(file: String, locator: SourceLocator) {
        self.file = file
        self.locator = locator
    }

    func report(_ keyPath: String, _ message: String) {
        diagnostics.append(ConfigurationDiagnostic(file: file, line: locator.line(of: keyPath), keyPath: keyPath, message: message))
    }
}

/// Typed, path-aware access to one TOML table. Every accessor records its key as known, so that
/// `reportUnknownKeys()` can flag the rest (with a "did you mean" suggestion). Type errors are reported to
/// the sink and the default is returned, so reading goes on and every problem is listed.
final class TableReader {
    let table: TOMLTable
    /// `host[1]`, `global`, or "" for the document root.
    let path: String
    let sink: DiagnosticSink
    private var known: [String] = []

    init(_ table: TOMLTable, path: String, sink: DiagnosticSink) {
        self.table = table
        self.path = path
        self.sink = sink
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func report(_ key: String, _ message: String) { sink.report(keyPath(key), message) }

    private func value(_ key: String) -> TOMLValueConvertible? {
        known.append(key)
        return table[key]
    }

    func contains(_ key: String) -> Bool { table.contains(key: key) }

    private func typeName(_ value: TOMLValueConvertible) -> String {
        switch value.type {
        case .string: return "a string"
        case .int: return "an integer"
        case .double: return "a floating-point number"
        case .bool: return "a boolean"
        case .table: return "a table"
        case .array: return "an array"
        case .date, .time, .dateTime: return "a date/time"
        }
    }

    func string(_ key: String) -> String? {
        guard let value = value(key) else { return nil }
        guard let string = value.string else {
            report(key, "expected a string, got \(typeName(value))")
            return nil
        }
        return string
    }

    /// A non-empty string.
    func nonEmptyString(_ key: String) -> String? {
        guard let string = string(key) else { return nil }
        if string.isEmpty {
            report(key, "expected a non-empty string")
            return nil
        }
        return string
    }

    func bool(_ key: String, default defaultValue: Bool) -> Bool {
        guard let value = value(key) else { return defaultValue }
        guard let bool = value.bool else {
            report(key, "expected true or false, got \(typeName(value))")
            return defaultValue
        }
        return bool
    }

    func int(_ key: String, default defaultValue: Int, range: ClosedRange<Int>) -> Int {
        guard let value = value(key) else { return defaultValue }
        guard let int = value.int else {
            report(key, "expected an integer from \(range.lowerBound) to \(range.upperBound), got \(typeName(value))")
            return defaultValue
        }
        guard range.contains(int) else {
            report(key, "expected an integer from \(range.lowerBound) to \(range.upperBound), got \(int)")
            return defaultValue
        }
        return int
    }

    /// An integer number of seconds or a string such as `"500ms"`, `"10s"`, `"5m"`, `"1h30m"`.
    func duration(_ key: String, default defaultValue: Duration, allowZero: Bool = false) -> Duration {
        guard let value = value(key) else { return defaultValue }
        let expected = "expected a duration: seconds as an integer, or a string like \"500ms\", \"10s\", \"5m\", \"1h\""
        var parsed: Duration?
        if let seconds = value.int {
            parsed = seconds >= 0 ? .seconds(seconds) : nil
        } else if let text = value.string {
            parsed = DurationText.parse(text)
        }
        guard let duration = parsed else {
            report(key, "\(expected), got \(value.string.map { "\"\($0)\"" } ?? typeName(value))")
            return defaultValue
        }
        if !allowZero && duration == .zero {
            report(key, "must be greater than zero")
            return defaultValue
        }
        return duration
    }

    /// One of `choices` (a string); `aliases` maps accepted synonyms to a choice.
    func choice<T>(_ key: String, _ choices: [(String, T)], default defaultValue: T, aliases: [String: String] = [:]) -> T {
        guard let text = string(key) else { return defaultValue }
        let normalized = aliases[text.lowercased()] ?? text.lowercased()
        if let match = choices.first(where: { $0.0 == normalized }) { return match.1 }
        let names = choices.map(\.0)
        let list = names.count == 2 ? "\(names[0]) or \(names[1])"
            : names.dropLast().joined(separator: ", ") + " or " + names.last!
        report(key, "expected \(list), got \"\(text)\"")
        return defaultValue
    }

    /// An array of strings; a single string is accepted as a one-element array.
    func stringArray(_ key: String) -> [String]? {
        guard let value = value(key) else { return nil }
        if let string = value.string { return [string] }
        guard let array = value.array else {
            report(key, "expected an array of strings, got \(typeName(value))")
            return nil
        }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let string = element.string else {
                sink.report("\(keyPath(key))[\(index)]", "expected a string, got \(typeName(element))")
                continue
            }
            result.append(string)
        }
        return result
    }

    /// One element of `stringsOrTables`.
    enum StringOrTable {
        /// A string, with the key path that names it in messages.
        case text(String, keyPath: String)
        case table(TableReader)
    }

    /// A string, or an array whose elements are strings or inline tables (`["a", { address = "b" }]`).
    func stringsOrTables(_ key: String) -> [StringOrTable]? {
        guard let value = value(key) else { return nil }
        if let string = value.string { return [.text(string, keyPath: keyPath(key))] }
        guard let array = value.array else {
            report(key, "expected a string or an array, got \(typeName(value))")
            return nil
        }
        var result: [StringOrTable] = []
        for (index, element) in array.enumerated() {
            let path = "\(keyPath(key))[\(index)]"
            if let string = element.string {
                result.append(.text(string, keyPath: array.count == 1 ? keyPath(key) : path))
            } else if let table = element.table {
                result.append(.table(TableReader(table, path: path, sink: sink)))
            } else {
                sink.report(path, "expected a string or an inline table, got \(typeName(element))")
            }
        }
        return result
    }

    /// A sub-table.
    func table(_ key: String) -> TableReader? {
        guard let value = value(key) else { return nil }
        guard let table = value.table else {
            report(key, "expected a table ([\(keyPath(key))]), got \(typeName(value))")
            return nil
        }
        return TableReader(table, path: keyPath(key), sink: sink)
    }

    /// An array of tables (`[[key]]` sections or an array of inline tables); a single table is accepted.
    func tables(_ key: String) -> [TableReader] {
        guard let value = value(key) else { return [] }
        if let table = value.table { return [TableReader(table, path: keyPath(key), sink: sink)] }
        guard let array = value.array else {
            report(key, "expected [[\(keyPath(key))]] sections, got \(typeName(value))")
            return []
        }
        var readers: [TableReader] = []
        for (index, element) in array.enumerated() {
            guard let table = element.table else {
                sink.report("\(keyPath(key))[\(index)]", "expected a table, got \(typeName(element))")
                continue
            }
            readers.append(TableReader(table, path: "\(keyPath(key))[\(index)]", sink: sink))
        }
        return readers
    }

    /// Reports every key of the table no accessor asked for.
    func reportUnknownKeys() {
        for key in table.keys where !known.contains(key) {
            var message = "unknown key"
            if let suggestion = Self.closest(to: key, in: known) { message += " (did you mean '\(suggestion)'?)" }
            report(key, message)
        }
    }

    /// The known key within edit distance 2 (or 1 for short keys), if any.
    static func closest(to key: String, in candidates: [String]) -> String? {
        let limit = key.count <= 4 ? 1 : 2
        var best: (String, Int)?
        for candidate in Set(candidates) {
            let distance = editDistance(key.lowercased(), candidate)
            if distance <= limit && distance < (best?.1 ?? .max) { best = (candidate, distance) }
        }
        return best?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// Durations written as `"1h30m"`, `"10s"`, `"250ms"`.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        var total: Duration = .zero
        var digits = ""
        var unit = ""
        var sawComponent = false
        func flush() -> Bool {
            guard let value = Int(digits) else { return false }
            switch unit {
            case "ms": total += .milliseconds(value)
            case "s": total += .seconds(value)
            case "m": total += .seconds(value * 60)
            case "h": total += .seconds(value * 3600)
            default: return false
            }
            digits = ""
            unit = ""
            sawComponent = true
            return true
        }
        for character in text.trimming(" ") {
            if character.isASCII && character.isNumber {
                if !unit.isEmpty { guard flush() else { return nil } }
                digits.append(character)
            } else if character.isLetter {
                guard !digits.isEmpty else { return nil }
                unit.append(character)
            } else {
                return nil
            }
        }
        if !digits.isEmpty || !unit.isEmpty { guard flush() else { return nil } }
        return sawComponent ? total : nil
    }

    /// `1.5s`, `300ms`, `5m`: the shortest exact spelling, for docs and `check` output.
    public static func format(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms % 3_600_000 == 0 && ms > 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0 && ms > 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}
