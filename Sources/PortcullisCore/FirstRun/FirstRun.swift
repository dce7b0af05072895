import Logging

/// First-run preparation shared by `run` and `check`.
public enum FirstRun {
    /// Creates the development certificate of every host with `self_signed_if_missing = true` whose files
    /// do not exist yet. Errors name the host.
    public static func prepare(_ configuration: ProxyConfiguration, logger: Logger) throws(ConfigurationError) {
        var diagnostics: [ConfigurationDiagnostic] = []
        for (index, host) in configuration.hosts.enumerated() where host.selfSignedIfMissing {
            guard let certificate = host.certificates.first else { continue }
            do {
                try DevelopmentCertificate.createIfMissing(
                    certificateFile: certificate.chainFile, keyFile: certificate.keyFile, logger: logger)
            } catch {
                let path = "host[\(index)].self_signed_if_missing"
                diagnostics.append(ConfigurationDiagnostic(
                    file: configuration.sourceFile ?? "<configuration>",
                    line: configuration.sourceLocator?.line(of: path), keyPath: path,
                    message: "cannot create the development certificate: \(error)"))
            }
        }
        if !diagnostics.isEmpty { throw ConfigurationError(diagnostics) }
    }
}
