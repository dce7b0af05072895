/// A failure of `portcullis cert ...`, phrased for the person at the terminal: what was wrong and, where
/// possible, what to do instead.
public struct CertificateToolError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
