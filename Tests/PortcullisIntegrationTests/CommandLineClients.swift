import Foundation

/// `openssl s_client` and `curl`, the real command-line clients operators use against the proxy.
enum SClient {
    struct Outcome {
        let result: Run.Result
        var output: String { result.stdout + result.stderr }
        /// The server certificate's subject line as s_client prints it (`subject=CN = a.example.com`).
        var peerSubject: String? {
            output.split(separator: "\n").first { $0.hasPrefix("subject=") }.map { String($0.dropFirst(8)) }
        }
        var handshakeSucceeded: Bool { output.contains("New, TLSv1") || output.contains("Reused, TLSv1") }
        var reused: Bool { output.contains("Reused, TLSv1") }
        var protocolVersion: String? {
            guard let line = output.split(separator: "\n").first(where: { $0.contains("Protocol  :") || $0.hasPrefix("Protocol version:") })
            else { return nil }
            return line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }

    /// Connects to 127.0.0.1:`port`, sends `input`, and returns when s_client exits (stdin EOF closes it).
    static func connect(
        port: UInt16, servername: String? = nil, caFile: String? = nil, cert: String? = nil, key: String? = nil,
        extra: [String] = [], input: String = "", timeout: TimeInterval = 15
    ) throws -> Outcome {
        var arguments = ["s_client", "-connect", "127.0.0.1:\(port)"]
        if let servername { arguments += ["-servername", servername] } else { arguments += ["-noservername"] }
        if let caFile { arguments += ["-CAfile", caFile] }
        if let cert { arguments += ["-cert", cert] }
        if let key { arguments += ["-key", key] }
        arguments += extra
        return Outcome(result: try Run.command("/usr/bin/openssl", arguments, input: input, timeout: timeout))
    }
}

enum Curl {
    /// `curl https://NAME:PORT/PATH` resolved to 127.0.0.1, trusting `caFile`.
    static func get(name: String, port: UInt16, path: String = "/", caFile: String, extra: [String] = [],
                    timeout: TimeInterval = 15) throws -> Run.Result {
        try Run.command("/usr/bin/curl", [
            "--silent", "--show-error", "--max-time", "\(Int(timeout))",
            "--resolve", "\(name):\(port):127.0.0.1", "--cacert", caFile,
        ] + extra + ["https://\(name):\(port)\(path)"], timeout: timeout + 5)
    }
}
