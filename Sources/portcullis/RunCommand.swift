import ArgumentParser
import FoundationEssentials
import Logging
import PortcullisCore

/// `portcullis run --config FILE`: load, compile, and serve until SIGTERM/SIGINT (SIGHUP reloads).
///
/// Under systemd it takes the listening sockets passed by socket activation (`LISTEN_FDS`), reports its
/// state over `NOTIFY_SOCKET` and feeds the watchdog. Started as root, it switches to `[global] user` once
/// every socket is bound, and refuses to keep running as root unless `--allow-root` says so.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the proxy.")

    @Option(name: .shortAndLong, help: "The configuration file.")
    var config: String

    @Flag(help: "Keep running as root when [global] names no user to switch to (refused otherwise).")
    var allowRoot = false

    func run() throws {
        // First, while the process has one thread: take systemd's sockets and unset LISTEN_* for good.
        let activation: SocketActivation
        do {
            activation = try SocketActivation.fromEnvironment()
        } catch {
            StandardStream.error.write("\(error)\n")
            throw ExitCode.failure
        }
        let configuration: ProxyConfiguration
        do {
            configuration = try ConfigurationLoader.load(file: config)
        } catch {
            StandardStream.error.write("\(error)\n")
            throw ExitCode.failure
        }
        let logging: LoggingSetup
        do {
            logging = try LoggingSetup(configuration: configuration)
        } catch {
            StandardStream.error.write("\(error)\n")
            throw ExitCode.failure
        }
        LoggingSystem.bootstrap { label in logging.makeHandler(label: label) }
        let logger = Logger(label: "portcullis")
        logger.info("starting portcullis \(PortcullisVersion.string)", metadata: [
            "config": "\(configuration.sourceFile ?? config)", "openssl": "\(Version.lines()[1])",
        ])
        let table: HostTable
        let server: ProxyServer
        let metricsEndpoint: MetricsEndpoint?
        do {
            // Decided before anything is created or bound: a root start without a user stops here.
            let privileges = try PrivilegePlan.make(user: configuration.user, group: configuration.group, allowRoot: allowRoot)
            try FirstRun.prepare(configuration, logger: logger)
            DescriptorLimit.raise(for: configuration, logger: logger)
            table = try HostTable.compile(configuration, logger: logger)
            let service = try ServiceIntegration.fromEnvironment(activation: activation, logger: logger)
            server = try ProxyServer(table: table, logging: logging, service: service)
            // The metrics socket is bound with the listeners, before privileges are given up.
            metricsEndpoint = try MetricsEndpoint.startIfConfigured(server: server, table: table, logger: logger)
            // Sockets bound, certificates and keys read: now give up root (before any worker thread exists).
            let identity = try privileges.apply()
            if privileges.keepsRoot { logger.warning("\(identity)") } else { logger.info("\(identity)") }
            service.privileges = privileges
        } catch {
            for line in "\(error)".split(separator: "\n") { logger.critical("\(line)") }
            throw ExitCode.failure
        }
        let status = try server.run()
        metricsEndpoint?.stop()
        if status != 0 { throw ExitCode(status) }
    }
}
