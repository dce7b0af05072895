/// Writes one access-log line per connection, as `key=value` text or a JSON object, in a fixed field order
/// so lines can be parsed and compared.
///
/// Text: `2025-06-01T12:34:56.789Z client=127.0.0.1:50123 via=- listener=https sni=www.example.com
/// host=www tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 alpn=h2 resumed=false client_subject=- client_verify=none
/// backend=127.0.0.1:8080 bytes_in=517 bytes_out=8211 handshake_ms=2.143 duration_ms=15.020 close=completed`;
/// `error="..."` is appended when the close reason carries a detail (failed handshakes, policy refusals).
/// `client_verify` is `none` (no certificate), `ok`, or the X509_V error text. `via` is the load balancer's
/// address on listeners that accept PROXY headers (`client` is then the header's source), `-` otherwise.
/// `allow=` (the allow-list entry that admitted the client, `cn=...`) and `redirected="..."` (the refusal
/// of a client sent to `client_refused_backend`) follow `client_verify` only when set, like `error`.
public final class AccessLogWriter: Sendable {
    let output: LogOutput
    private let format: LogFormat

    public init(output: LogOutput, format: LogFormat) {
        self.output = output
        self.format = format
    }

    public func write(_ record: ConnectionRecord) {
        output.write(line: line(for: record))
    }

    /// The line `write(_:)` writes, without the newline. A text line on the journal's stream leaves out the
    /// time, as the operational log does (journald records it).
    public func line(for record: ConnectionRecord) -> String {
        let fields = Self.fields(of: record)
        switch format {
        case .text:
            var parts = output.isJournal ? [] : [LogLineFormatter.timestamp()]
            for (key, value) in fields {
                guard let value else {
                    if !Self.omittedWhenMissing.contains(key) { parts.append("\(key)=-") }
                    continue
                }
                parts.append("\(key)=\(value.isNumber ? value.text : LogLineFormatter.textValue(value.text))")
            }
            return parts.joined(separator: " ")
        case .json:
            var line = "{\"time\":\"\(LogLineFormatter.timestamp())\""
            for (key, value) in fields {
                guard let value else {
                    if !Self.omittedWhenMissing.contains(key) { line += ",\"\(key)\":null" }
                    continue
                }
                line += ",\"\(key)\":" + (value.isNumber ? value.text : LogLineFormatter.jsonString(value.text))
            }
            return line + "}"
        }
    }

    private struct Value {
        var text: String
        var isNumber: Bool
        static func string(_ text: String?) -> Value? { text.map { Value(text: $0, isNumber: false) } }
        static func number(_ text: String) -> Value { Value(text: text, isNumber: true) }
    }

    /// Fields left out of the line, rather than written as `-`/`null`, when they have no value.
    private static let omittedWhenMissing: Set<String> = ["error", "allow", "redirected"]

    private static func fields(of record: ConnectionRecord) -> [(String, Value?)] {
        [
            ("client", .string(record.clientAddress)),
            ("via", .string(record.via)),
            ("listener", .string(record.listener)),
            ("sni", .string(record.serverName)),
            ("host", .string(record.host)),
            ("tls", .string(record.tlsVersion)),
            ("cipher", .string(record.cipher)),
            ("alpn", .string(record.alpn)),
            ("resumed", .number(record.sessionReused ? "true" : "false")),
            ("client_subject", .string(record.clientSubject)),
            ("client_verify", .string(record.clientVerify)),
            ("allow", .string(record.allowedBy)),
            ("redirected", .string(record.redirected)),
            ("backend", .string(record.backend)),
            ("bytes_in", .number(String(record.bytesFromClient))),
            ("bytes_out", .number(String(record.bytesToClient))),
            ("handshake_ms", record.handshakeDuration.map { .number(milliseconds($0)) }),
            ("duration_ms", .number(milliseconds(record.totalDuration))),
            ("close", .string(record.closeReason)),
            ("error", .string(record.error)),
        ]
    }

    /// Milliseconds with microsecond precision: `2.143`.
    static func milliseconds(_ duration: Duration) -> String {
        let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        let whole = micros / 1000
        let fraction = String(micros % 1000)
        return "\(whole).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
