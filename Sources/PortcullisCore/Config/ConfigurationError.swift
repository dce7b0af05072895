/// One problem found in a configuration file, with where it is and what was expected.
public struct ConfigurationDiagnostic: Sendable, Equatable, CustomStringConvertible {
    /// The file, as given on the command line.
    public var file: String
    /// 1-based line, when known (always for syntax errors, for a key when it appears in the file).
    public var line: Int?
    /// 1-based column, for syntax errors.
    public var column: Int?
    /// The key path, e.g. `host[1].client_verify` (`[n]` counts `[[host]]` sections from 0).
    public var keyPath: String?
    /// What is wrong and what was expected.
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, keyPath: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    /// `file:line:column: key.path: message`, the shape compilers and editors understand.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if let column { text += ":\(column)" }
        text += ": "
        if let keyPath { text += "\(keyPath): " }
        return text + message
    }
}

/// A configuration that cannot be used. Holds every problem found, not only the first, so that `check` can
/// list them all at once.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var diagnostics: [ConfigurationDiagnostic]

    public init(_ diagnostics: [ConfigurationDiagnostic]) { self.diagnostics = diagnostics }

    public init(file: String, line: Int? = nil, keyPath: String? = nil, message: String) {
        self.diagnostics = [ConfigurationDiagnostic(file: file, line: line, keyPath: keyPath, message: message)]
    }

    /// One diagnostic per line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
