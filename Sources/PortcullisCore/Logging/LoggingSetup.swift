public import Logging

/// The process's logs, built from the `[global]` settings: the operational log (swift-log) and the access
/// log. `portcullis run` bootstraps swift-log with `makeHandler(label:)` once at startup.
public final class LoggingSetup: Sendable {
    public let level: Logger.Level
    public let format: LogFormat
    /// Operational log output.
    public let output: LogOutput
    /// Nil when `access_log = "off"`.
    public let accessLog: AccessLogWriter?

    /// Opens the configured outputs. Throws `LogOutputError` when a log file cannot be opened.
    public init(configuration: ProxyConfiguration) throws {
        level = configuration.logLevel
        format = configuration.logFormat
        output = try LogOutput.opening(configuration.logDestination) ?? .stderr
        accessLog = try LogOutput.opening(configuration.accessLog).map { AccessLogWriter(output: $0, format: configuration.logFormat) }
    }

    /// Logs to stderr at `level`, without an access log: used before a configuration is read (`check`).
    public init(level: Logger.Level = .info, format: LogFormat = .text) {
        self.level = level
        self.format = format
        output = .stderr
        accessLog = nil
    }

    /// Reopens the log files (operational and access log) at their paths, for log rotation: a reload
    /// (SIGHUP) calls it first, so logrotate's `postrotate systemctl reload portcullis` is all it takes.
    /// A file that cannot be reopened keeps the old one and is reported through `logger`.
    public func reopenFiles(logger: Logger) {
        for output in [output, accessLog?.output].compactMap({ $0 }) {
            do { try output.reopen() } catch { logger.error("\(error); still writing to the previous file") }
        }
    }

    /// A handler for `LoggingSystem.bootstrap`.
    public func makeHandler(label: String) -> any LogHandler {
        PortcullisLogHandler(label: label, level: level, format: format, output: output)
    }

    /// A logger writing through this setup directly (works without bootstrapping swift-log, e.g. in tests).
    public func logger(label: String = "portcullis") -> Logger {
        Logger(label: label) { label in self.makeHandler(label: label) }
    }
}
