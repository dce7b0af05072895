import ArgumentParser
import PortcullisCore

/// `portcullis`: a TLS-terminating reverse proxy.
@main
struct Portcullis: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A TLS-terminating reverse proxy: SNI host contexts, mutual TLS, plaintext TCP/unix backends.",
        subcommands: [Run.self, Check.self, Health.self, Version.self, Cert.self]
    )
}
