import OpenSSLCrypto

/// A subject given on the command line: OpenSSL's slash form `/C=DE/O=Example/CN=www.example.com` or the
/// comma form `CN=www.example.com, O=Example` (attributes by short or long name, in the order given).
public struct DistinguishedName: Equatable, Sendable {
    public var attributes: [(field: String, value: String)]

    public static func == (lhs: DistinguishedName, rhs: DistinguishedName) -> Bool {
        lhs.attributes.map(\.field) == rhs.attributes.map(\.field) && lhs.attributes.map(\.value) == rhs.attributes.map(\.value)
    }

    public init(attributes: [(field: String, value: String)]) {
        self.attributes = attributes
    }

    /// Parses `text`. A backslash escapes the next character (`O=Example\, Inc.`).
    public init(parsing text: String) throws {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { throw CertificateToolError("empty subject; expected e.g. /CN=www.example.com or CN=www.example.com,O=Example") }
        let slashForm = trimmed.hasPrefix("/")
        let separator: Character = slashForm ? "/" : ","
        var parts: [String] = []
        var current = ""
        var escaped = false
        for character in slashForm ? String(trimmed.dropFirst()) : trimmed {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == separator {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        var attributes: [(field: String, value: String)] = []
        for part in parts {
            guard let equals = part.firstIndex(of: "=") else {
                throw CertificateToolError("subject part '\(part)' is not FIELD=value (e.g. CN=www.example.com)")
            }
            let field = String(part[..<equals]).trimmingSpaces
            let value = String(part[part.index(after: equals)...]).trimmingSpaces
            guard !field.isEmpty, !value.isEmpty else {
                throw CertificateToolError("subject part '\(part)' needs a field name and a value")
            }
            guard (try? X509Name.Field(field)) != nil else {
                throw CertificateToolError("unknown subject field '\(field)' (use CN, O, OU, C, ST, L, emailAddress, ...)")
            }
            attributes.append((field, value))
        }
        self.attributes = attributes
    }

    /// A name with one attribute, `CN=commonName`.
    public init(commonName: String) {
        attributes = [("CN", commonName)]
    }

    /// The X.509 name, attributes in order.
    ///
    /// `X509Name.set` replaces an attribute already present (pyOpenSSL's semantics), so a field given twice is
    /// refused rather than silently reduced to its last value.
    func x509Name() throws -> X509Name {
        let name = try X509Name()
        var seen: Set<Int32> = []
        for (field, value) in attributes {
            let nameField = try X509Name.Field(field)
            guard seen.insert(nameField.nid).inserted else {
                throw CertificateToolError("subject field '\(field)' is given twice; give each field once")
            }
            do {
                try name.set(nameField, utf8: Array(value.utf8))
            } catch {
                throw CertificateToolError("subject field \(field)=\(value) is not acceptable: \(error)")
            }
        }
        return name
    }
}

fileprivate extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
