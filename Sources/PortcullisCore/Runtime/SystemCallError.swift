internal import Glibc

/// A failed system call: which call, on what, and `errno`.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call and its subject, e.g. `bind 0.0.0.0:443`.
    public var call: String
    /// The `errno` value.
    public var code: Int32

    public init(_ call: String, code: Int32) {
        self.call = call
        self.code = code
    }

    /// An error for `call` with the current `errno`.
    static func last(_ call: String) -> SystemCallError { SystemCallError(call, code: errno) }

    public var description: String {
        "\(call): \(String(cString: strerror(code))) (errno \(code))"
    }
}
