import FoundationEssentials

/// Finds the line on which a key path is defined in TOML text.
///
/// TOMLKit reports positions for syntax errors only, so semantic errors ("`host[1].client_verify`: expected
/// none, optional or require") would have no line. This scanner follows table headers (`[global]`,
/// `[[host]]`, `[[host.certificates]]`) and `key = value` lines, which is enough for every key our schema
/// has; a value spread over several lines is located at its first line.
struct SourceLocator: Sendable, Equatable {
    private var lines: [String: Int] = [:]

    init(text: String) {
        var arrayCounts: [String: Int] = [:]
        var current = ""
        var lineNumber = 0
        var inMultilineString: Substring? = nil
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.drop { $0 == " " || $0 == "\t" }
            if let delimiter = inMultilineString {
                if line.contains(delimiter) { inMultilineString = nil }
                continue
            }
            if line.hasPrefix("#") || line.isEmpty { continue }
            if line.hasPrefix("[[") {
                guard let end = line.range(of: "]]") else { continue }
                // Every part but the last names an enclosing element; the last is the array itself.
                let header = String(line[line.index(line.startIndex, offsetBy: 2)..<end.lowerBound])
                var parts = header.split(separator: ".").map { $0.trimming(" \t\"'") }
                let last = parts.removeLast()
                let parent = Self.resolve(parts.joined(separator: "."), arrayCounts)
                let name = parent.isEmpty ? last : "\(parent).\(last)"
                let index = arrayCounts[name, default: -1] + 1
                arrayCounts[name] = index
                current = "\(name)[\(index)]"
                record(name, lineNumber)
                record(current, lineNumber)
            } else if line.hasPrefix("[") {
                guard let end = line.firstIndex(of: "]") else { continue }
                current = Self.resolve(String(line[line.index(after: line.startIndex)..<end]), arrayCounts)
                record(current, lineNumber)
            } else if let equals = line.firstIndex(of: "=") {
                let key = line[..<equals].trimming(" \t\"'")
                guard !key.isEmpty else { continue }
                record(current.isEmpty ? key : "\(current).\(key)", lineNumber)
                let value = line[line.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
                for delimiter in ["\"\"\"", "'''"] where value.hasPrefix(delimiter) {
                    if !value.dropFirst(3).contains(delimiter) { inMultilineString = Substring(delimiter) }
                }
            }
        }
    }

    private mutating func record(_ path: String, _ line: Int) {
        if lines[path] == nil { lines[path] = line }
    }

    /// `host.certificates` inside the third `[[host]]` is `host[2].certificates`.
    private static func resolve(_ header: String, _ arrayCounts: [String: Int]) -> String {
        var resolved = ""
        for part in header.split(separator: ".") {
            let name = part.trimming(" \t\"'")
            resolved = resolved.isEmpty ? name : "\(resolved).\(name)"
            if let index = arrayCounts[resolved] { resolved += "[\(index)]" }
        }
        return resolved
    }

    /// The line of `path`, or of its closest enclosing table or array element.
    func line(of path: String) -> Int? {
        var candidate = path
        while true {
            if let line = lines[candidate] { return line }
            if candidate.hasSuffix("]"), let open = candidate.lastIndex(of: "[") {
                // `host[0].certificates[1]` (an inline table in an array) -> `host[0].certificates`
                candidate = String(candidate[..<open])
                continue
            }
            guard let dot = candidate.lastIndex(of: ".") else { return nil }
            candidate = String(candidate[..<dot])
        }
    }
}

extension StringProtocol {
    /// Drops leading and trailing characters found in `set`.
    func trimming(_ set: String) -> String {
        let scalars = Set(set)
        var slice = Substring(self)
        while let first = slice.first, scalars.contains(first) { slice.removeFirst() }
        while let last = slice.last, scalars.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
