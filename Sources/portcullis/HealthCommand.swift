import ArgumentParser
import PortcullisCore

/// `portcullis health`: exit 0 when a running proxy's `/healthz` answers 200, 1 otherwise (draining, a
/// stuck worker loop, nothing listening). For container HEALTHCHECKs and scripts; needs no curl.
struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask a running proxy's metrics endpoint for /healthz (exit 0 when healthy).",
        discussion: """
            The address is the configuration's metrics_listen (a wildcard address is probed on loopback), or \
            --address. Prints "healthy: 200 ok" or "unhealthy: REASON".
            """
    )

    @Option(name: .shortAndLong, help: "The configuration file whose metrics_listen to probe.")
    var config: String?

    @Option(help: "The metrics endpoint's address (host:port), instead of reading --config.")
    var address: String?

    @Option(help: "Give up after this many seconds.")
    var timeout: Double = 3

    @Flag(name: .shortAndLong, help: "Print nothing; only the exit status tells.")
    var quiet = false

    func validate() throws {
        guard (config == nil) != (address == nil) else {
            throw ValidationError("pass either --config FILE or --address HOST:PORT")
        }
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be between 0 and 3600 seconds") }
    }

    func run() throws {
        let target: ListenAddress
        if let address {
            switch ListenAddress.parse(address) {
            case .success(let parsed): target = parsed
            case .failure(let error): throw ValidationError("--address \(address): \(error)")
            }
        } else {
            let file = config!
            let configuration: ProxyConfiguration
            do {
                configuration = try ConfigurationLoader.load(file: file)
            } catch {
                StandardStream.error.write("\(error)\n")
                throw ExitCode.failure
            }
            guard let metrics = HealthProbe.address(for: configuration) else {
                StandardStream.error.write("\(file): [global] sets no metrics_listen, so there is no /healthz to ask; set one or pass --address\n")
                throw ExitCode.failure
            }
            target = metrics
        }
        let result = HealthProbe.probe(target, timeoutMilliseconds: Int32(timeout * 1000))
        if !quiet { print(result) }
        if !result.healthy { throw ExitCode.failure }
    }
}
