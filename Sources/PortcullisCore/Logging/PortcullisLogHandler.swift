public import Logging

/// The swift-log handler of the operational log: one line per message, as text or JSON.
///
/// Text: `2025-06-01T12:34:56.789Z warning portcullis: message key=value key2="a b"`
/// JSON: `{"time":"...","level":"warning","logger":"portcullis","msg":"message","key":"value"}`
public struct PortcullisLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: LogFormat
    private let output: LogOutput

    public init(label: String, level: Logger.Level, format: LogFormat, output: LogOutput) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        output.write(line: Self.format(level: event.level, label: label, message: "\(event.message)", metadata: merged,
                                       format: format, timestamped: !output.isJournal),
                     priority: Self.syslogPriority(event.level))
    }

    /// The syslog priority journald records for a level (sd-daemon(3)).
    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// One formatted line (exposed for tests and for the access log's shared layout). A text line leaves out
    /// the time when `timestamped` is false (journald stamps each entry itself).
    static func format(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, format: LogFormat,
                       timestamped: Bool = true) -> String {
        let keys = metadata.keys.sorted()
        switch format {
        case .text:
            var line = (timestamped ? "\(LogLineFormatter.timestamp()) " : "") + "\(level) \(label): \(message)"
            for key in keys { line += " \(key)=\(LogLineFormatter.textValue(render(metadata[key]!)))" }
            return line
        case .json:
            var line = "{\"time\":\"\(LogLineFormatter.timestamp())\",\"level\":\"\(level)\",\"logger\":"
                + "\(LogLineFormatter.jsonString(label)),\"msg\":\(LogLineFormatter.jsonString(message))"
            for key in keys where !["time", "level", "logger", "msg"].contains(key) {
                line += ",\(LogLineFormatter.jsonString(key)):\(LogLineFormatter.jsonString(render(metadata[key]!)))"
            }
            return line + "}"
        }
    }

    private static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): return string
        case .stringConvertible(let convertible): return convertible.description
        case .array(let values): return values.map(render).joined(separator: ",")
        case .dictionary(let dictionary): return dictionary.keys.sorted().map { "\($0):\(render(dictionary[$0]!))" }.joined(separator: ",")
        }
    }
}
