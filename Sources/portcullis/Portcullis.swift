import ArgumentParser
import OpenSSLSSL
import PortcullisCore

/// `portcullis`: a TLS-terminating reverse proxy.
@main
struct Portcullis: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A TLS-terminating reverse proxy: SNI host contexts, mutual TLS, plaintext TCP/unix backends.",
        subcommands: [Version.self]
    )
}

/// `portcullis version`: Portcullis and the OpenSSL it runs on.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the versions of Portcullis and OpenSSL.")

    func run() {
        print("portcullis \(PortcullisVersion.string)")
    }
}
