import ArgumentParser
import Foundation
import Logging
import PortcullisCore

/// `portcullis run --config FILE`: load, compile, and serve until SIGTERM/SIGINT (SIGHUP reloads).
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the proxy.")

    @Option(name: .shortAndLong, help: "The configuration file.")
    var config: String

    func run() throws {
        let configuration: ProxyConfiguration
        do {
            configuration = try ConfigurationLoader.load(file: config)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode.failure
        }
        let logging: LoggingSetup
        do {
            logging = try LoggingSetup(configuration: configuration)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode.failure
        }
        LoggingSystem.bootstrap { label in logging.makeHandler(label: label) }
        let logger = Logger(label: "portcullis")
        logger.info("starting portcullis \(PortcullisVersion.string)", metadata: [
            "config": "\(configuration.sourceFile ?? config)", "openssl": "\(Version.lines()[1])",
        ])
        let table: HostTable
        do {
            try FirstRun.prepare(configuration, logger: logger)
            table = try HostTable.compile(configuration, logger: logger)
        } catch {
            for line in "\(error)".split(separator: "\n") { logger.critical("\(line)") }
            throw ExitCode.failure
        }
        let server = try ProxyServer(table: table, logging: logging)
        let metricsEndpoint: MetricsEndpoint?
        do {
            metricsEndpoint = try MetricsEndpoint.startIfConfigured(server: server, table: table, logger: logger)
        } catch {
            logger.critical("cannot serve metrics: \(error)")
            throw ExitCode.failure
        }
        let status = try server.run()
        metricsEndpoint?.stop()
        if status != 0 { throw ExitCode(status) }
    }
}
