import ArgumentParser
internal import COpenSSL
import OpenSSLSSL
import PortcullisCore

/// `portcullis version`: Portcullis, the OpenSSL it runs on, and the OpenSSL headers it was built against.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the versions of Portcullis and OpenSSL.")

    func run() {
        for line in Self.lines() { print(line) }
    }

    static func lines() -> [String] {
        let runtime = String(decoding: SSL.openSSLVersion(SSL.OPENSSL_VERSION), as: UTF8.self)
        let number = String(SSL.OPENSSL_VERSION_NUMBER, radix: 16)
        return [
            "portcullis \(PortcullisVersion.string)",
            "OpenSSL (running): \(runtime) (0x\(number))",
            "OpenSSL (built against): \(OPENSSL_VERSION_TEXT)",
        ]
    }
}
