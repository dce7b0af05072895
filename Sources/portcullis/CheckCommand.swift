import ArgumentParser
import FoundationEssentials
import Logging
import PortcullisCore

/// `portcullis check --config FILE`: validates a configuration the way `run` would load it, without
/// binding anything. Exit status 0 when the proxy would start, 1 otherwise.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a configuration: syntax, keys, certificates, keys, CAs and CRLs.",
        discussion: """
            Every problem is printed as FILE:LINE: KEY: MESSAGE. Loads each certificate chain and private key \
            (with its passphrase), checks that they match, and parses client CA and CRL files. Hosts with \
            self_signed_if_missing = true get their development certificate created, as `run` would.
            """
    )

    @Option(name: .shortAndLong, help: "The configuration file.")
    var config: String

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    func run() throws {
        let logger = LoggingSetup(level: .notice).logger(label: "portcullis.check")
        do {
            let configuration = try ConfigurationLoader.load(file: config)
            try FirstRun.prepare(configuration, logger: logger)
            let table = try HostTable.compile(configuration, logger: logger)
            if !quiet { print(Self.summary(table)) }
        } catch {
            StandardStream.error.write("\(error)\n")
            throw ExitCode.failure
        }
    }

    static func summary(_ table: HostTable) -> String {
        var lines = ["\(table.configuration.sourceFile ?? "configuration"): OK"]
        for listener in table.listeners {
            let addresses = listener.configuration.addresses.map(\.description).joined(separator: ", ")
            let strict = listener.configuration.strictSNI ? ", strict SNI" : ""
            lines.append("  listener \(listener.name) on \(addresses): default host \(listener.defaultHost?.name ?? "none")\(strict)")
        }
        for host in table.hosts {
            let names = host.serverNames.isEmpty ? "(no SNI names)" : host.serverNames.joined(separator: " ")
            let backends = host.backends.enumerated().map { position, backend in
                let weight = host.backendHealth.weight(ofBackendAt: position)
                return weight == 1 ? backend.description : "\(backend) (weight \(weight))"
            }.joined(separator: ", ")
            var balancing = ""
            if host.backends.count > 1 { balancing += " (\(host.backendHealth.balance.rawValue))" }
            if let check = host.backendHealth.check { balancing += ", checked every \(DurationText.format(check.interval))" }
            lines.append("  host \(host.name): \(names) -> \(backends)\(balancing); client_verify \(host.policy.verify.rawValue)")
        }
        return lines.joined(separator: "\n")
    }
}
