import Foundation

/// Builds the TOML the integration tests hand to the real binary (schema: README.md ("Configuration reference")).
struct ProxyConfigBuilder {
    struct Host {
        var name: String
        var names: [String]
        var certificates: [(cert: String, key: String)]
        var backends: [String]
        var extra: [String: String] = [:]   // raw TOML values, e.g. "client_verify": "\"require\""
        var ocspResponses: [String: String] = [:]   // certificate path -> its ocsp_response_file
    }

    struct Listener {
        var name: String
        var port: UInt16
        var hosts: [String]
        var defaultHost: String?
        var extra: [String: String] = [:]
    }

    var global: [String: String] = ["workers": "2", "access_log": "\"stdout\"", "log_level": "\"info\""]
    var listeners: [Listener] = []
    var hosts: [Host] = []

    var toml: String {
        var lines = ["[global]"]
        for (key, value) in global.sorted(by: { $0.key < $1.key }) { lines.append("\(key) = \(value)") }
        for listener in listeners {
            lines += ["", "[[listener]]", "name = \(quote(listener.name))", "listen = [\(quote("127.0.0.1:\(listener.port)"))]",
                      "hosts = [\(listener.hosts.map(quote).joined(separator: ", "))]"]
            if let defaultHost = listener.defaultHost { lines.append("default_host = \(quote(defaultHost))") }
            for (key, value) in listener.extra.sorted(by: { $0.key < $1.key }) { lines.append("\(key) = \(value)") }
        }
        for host in hosts {
            lines += ["", "[[host]]", "name = \(quote(host.name))", "names = [\(host.names.map(quote).joined(separator: ", "))]",
                      "backend = [\(host.backends.map(quote).joined(separator: ", "))]"]
            for (key, value) in host.extra.sorted(by: { $0.key < $1.key }) { lines.append("\(key) = \(value)") }
            for certificate in host.certificates {
                lines += ["[[host.certificates]]", "certificate = \(quote(certificate.cert))", "key = \(quote(certificate.key))"]
                if let response = host.ocspResponses[certificate.cert] { lines.append("ocsp_response_file = \(quote(response))") }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// TOML string literal.
func tomlString(_ text: String) -> String { "\"\(text)\"" }
/// TOML array of strings.
func tomlArray(_ items: [String]) -> String { "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
