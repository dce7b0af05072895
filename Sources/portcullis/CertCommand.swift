import ArgumentParser
import FoundationEssentials
import OpenSSLCrypto
import PortcullisCore

/// `portcullis cert ...`: certificate tooling on OpenSSLCrypto (no `openssl` binary needed). A development
/// mutual-TLS setup takes three commands; `inspect`, `csr` and `pkcs12` cover day-to-day work with real
/// certificates. See README.md ("Certificate tooling").
struct Cert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create development certificates, inspect certificates, make CSRs and PKCS#12 bundles.",
        discussion: """
            A working mutual-TLS setup in one minute:
              portcullis cert dev-ca --out pki
              portcullis cert dev-server localhost 127.0.0.1 --ca pki --out pki
              portcullis cert dev-client alice --uri spiffe://example.org/alice --ca pki --out pki
            Private keys are written with mode 0600; existing files are never overwritten without --force.
            """,
        subcommands: [DevCA.self, DevServer.self, DevClient.self, Inspect.self, CSR.self, Bundle.self]
    )

    /// Runs `body`, turning any error into one "error: ..." line on stderr and exit status 1.
    static func run(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as ExitCode {
            throw error
        } catch {
            StandardStream.error.write("error: \(error)\n")
            throw ExitCode.failure
        }
    }
}

/// The key of a new certificate.
struct KeyOptions: ParsableArguments {
    @Option(name: .customLong("key-type"), help: "ec (ECDSA P-256) or rsa.")
    var keyType: String = "ec"

    @Option(name: .customLong("rsa-bits"), help: "RSA key size (with --key-type rsa).")
    var rsaBits: Int = 2048

    func kind() throws -> CertificateIssuer.KeyKind {
        switch keyType.lowercased() {
        case "ec", "ecdsa", "p-256", "p256": return .ecdsaP256
        case "rsa": return .rsa(bits: rsaBits)
        default: throw CertificateToolError("--key-type must be ec or rsa, got \(keyType)")
        }
    }
}

/// The CA that signs a new leaf certificate.
/// Where `dev-server` and `dev-client` write, for how long the certificate is valid, and whether to overwrite.
struct LeafOutputOptions: ParsableArguments {
    @Option(help: "Output directory (created if missing).")
    var out = "."

    @Option(name: .customLong("file-name"), help: "Base name of the output files instead of the (first) NAME.")
    var fileName: String?

    @Option(help: "Validity in days.")
    var days = CertificateIssuer.defaultLeafDays

    @Flag(help: "Replace existing files.")
    var force = false
}

struct CAOptions: ParsableArguments {
    @Option(help: "Directory holding ca.pem and ca.key (as written by dev-ca). Default: the --out directory.")
    var ca: String?

    @Option(name: .customLong("ca-cert"), help: "The CA certificate (PEM), instead of --ca.")
    var caCert: String?

    @Option(name: .customLong("ca-key"), help: "The CA private key (unencrypted PEM), with --ca-cert.")
    var caKey: String?

    func paths(defaultDirectory: String) throws -> (certificate: String, key: String) {
        if caCert != nil || caKey != nil {
            guard let caCert, let caKey else { throw CertificateToolError("--ca-cert and --ca-key go together") }
            guard ca == nil else { throw CertificateToolError("give either --ca DIR or --ca-cert/--ca-key, not both") }
            return (caCert, caKey)
        }
        return DevelopmentPKI.caPaths(in: ca ?? defaultDirectory)
    }
}

/// A password, from the command line, the environment or a file.
struct PasswordOptions: ParsableArguments {
    @Option(help: "The password (visible to other local users in the process list; prefer --password-env or --password-file).")
    var password: String?

    @Option(name: .customLong("password-env"), help: "Name of an environment variable holding the password.")
    var passwordEnv: String?

    @Option(name: .customLong("password-file"), help: "A file whose first line is the password.")
    var passwordFile: String?

    func value() throws -> [UInt8]? {
        let given = [password != nil, passwordEnv != nil, passwordFile != nil].filter { $0 }.count
        guard given <= 1 else { throw CertificateToolError("give one of --password, --password-env, --password-file") }
        if let password { return Array(password.utf8) }
        if let passwordEnv {
            guard let value = ProcessInfo.processInfo.environment[passwordEnv] else {
                throw CertificateToolError("environment variable \(passwordEnv) is not set")
            }
            return Array(value.utf8)
        }
        if let passwordFile {
            let bytes = try OutputFile.read(passwordFile, what: "password file")
            let line = bytes.prefix { $0 != 0x0A }
            return Array(line.last == 0x0D ? line.dropLast() : line)
        }
        return nil
    }
}

extension Cert {
    struct DevCA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dev-ca", abstract: "Create a development CA: DIR/ca.pem and DIR/ca.key (mode 0600).")

        @Option(help: "Output directory (created if missing).")
        var out = "."

        @Option(help: "Subject of the CA, e.g. \"/O=Example/CN=Example Dev CA\".")
        var subject = "/O=Portcullis Development/CN=Portcullis Development CA"

        @Option(help: "Validity in days.")
        var days = CertificateIssuer.defaultCADays

        @OptionGroup var key: KeyOptions

        @Flag(help: "Replace existing files.")
        var force = false

        func run() throws {
            try Cert.run {
                let written = try DevelopmentPKI.createCA(
                    directory: out, subject: DistinguishedName(parsing: subject), keyKind: key.kind(), days: days, force: force)
                print("CA certificate: \(written.certificate)")
                print("CA key:         \(written.key) (mode 0600; keep it private)")
                print("Next: portcullis cert dev-server localhost 127.0.0.1 --ca \(out) --out \(out)")
            }
        }
    }

    struct DevServer: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dev-server",
            abstract: "Issue a server certificate for NAME... (DNS names and IP addresses) from the development CA.",
            discussion: "Writes DIR/NAME.pem and DIR/NAME.key (the first name; *.example.com becomes wildcard.example.com).")

        @Argument(help: "DNS names (*.example.com allowed) and IP addresses; the first is also the common name.")
        var names: [String]

        @OptionGroup var output: LeafOutputOptions
        @OptionGroup var ca: CAOptions
        @OptionGroup var key: KeyOptions

        func run() throws {
            try Cert.run {
                guard let first = names.first else { throw CertificateToolError("give at least one name") }
                let entries = try names.map(SubjectAltName.forName)
                let caPaths = try ca.paths(defaultDirectory: output.out)
                let written = try DevelopmentPKI.createLeaf(
                    subject: DistinguishedName(commonName: first), profile: .server(entries),
                    baseName: output.fileName ?? DevelopmentPKI.fileBaseName(for: first), directory: output.out,
                    caCertificate: caPaths.certificate, caKey: caPaths.key, keyKind: key.kind(), days: output.days, force: output.force)
                print("Server certificate: \(written.certificate) (\(entries.map(\.description).joined(separator: ", ")))")
                print("Server key:         \(written.key) (mode 0600)")
                print("In a [[host]]: certificate = \"\(written.certificate)\", key = \"\(written.key)\"")
            }
        }
    }

    struct DevClient: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dev-client",
            abstract: "Issue a client certificate (clientAuth) for NAME from the development CA.",
            discussion: "Writes DIR/NAME.pem and DIR/NAME.key. NAME is the common name (allow_cn); --uri adds SAN URIs (allow_uri, e.g. SPIFFE IDs), --dns SAN DNS names (allow_dns), --email SAN e-mail addresses (allow_email), --ip SAN IP addresses (allow_ip), --ou an organizational unit (allow_ou).")

        @Argument(help: "The client's common name.")
        var name: String

        @Option(help: "A SAN URI, e.g. spiffe://example.org/ns/prod/sa/api (repeatable).")
        var uri: [String] = []

        @Option(help: "A SAN DNS name (repeatable).")
        var dns: [String] = []

        @Option(help: "A SAN e-mail address (repeatable).")
        var email: [String] = []

        @Option(help: "A SAN IP address, IPv4 or IPv6 (repeatable).")
        var ip: [String] = []

        @Option(help: "Organizational unit (OU) of the subject.")
        var ou: String?

        @OptionGroup var output: LeafOutputOptions
        @OptionGroup var ca: CAOptions
        @OptionGroup var key: KeyOptions

        func run() throws {
            try Cert.run {
                var entries: [SubjectAltName] = []
                entries += try uri.map { try SubjectAltName(parsing: "URI:" + $0) }
                entries += try dns.map { try SubjectAltName(parsing: "DNS:" + $0) }
                entries += try email.map { try SubjectAltName(parsing: "email:" + $0) }
                entries += try ip.map { try SubjectAltName(parsing: "IP:" + $0) }
                var attributes: [(field: String, value: String)] = []
                if let ou { attributes.append(("OU", ou)) }
                attributes.append(("CN", name))
                let caPaths = try ca.paths(defaultDirectory: output.out)
                let written = try DevelopmentPKI.createLeaf(
                    subject: DistinguishedName(attributes: attributes), profile: .client(entries),
                    baseName: output.fileName ?? DevelopmentPKI.fileBaseName(for: name), directory: output.out,
                    caCertificate: caPaths.certificate, caKey: caPaths.key, keyKind: key.kind(), days: output.days, force: output.force)
                print("Client certificate: \(written.certificate)")
                print("Client key:         \(written.key) (mode 0600)")
                print("On the proxy: client_verify = \"require\", client_ca_file = \"\(caPaths.certificate)\"")
            }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Summarize a PEM, DER or PKCS#12 file: subject, SANs, issuer, validity, key, fingerprint, serial.")

        @Argument(help: "The file.")
        var file: String

        @OptionGroup var password: PasswordOptions

        func run() throws {
            try Cert.run {
                let bytes = try OutputFile.read(file, what: "file")
                print(try CertificateInspector.describe(bytes, name: file, password: password.value()), terminator: "")
            }
        }
    }

    struct CSR: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a certificate signing request (PEM) for a key, to send to a CA.")

        @Option(help: "The private key (PEM). With --new-key it is created (mode 0600) when missing.")
        var key: String

        @Option(help: "The subject, e.g. \"/O=Example/CN=www.example.com\" or \"CN=www.example.com,O=Example\".")
        var subject: String

        @Option(help: "A subjectAltName: DNS:name, IP:address, URI:uri, email:address, or a bare name or address (repeatable).")
        var san: [String] = []

        @Option(help: "Where to write the CSR (default: standard output).")
        var out: String?

        @Flag(name: .customLong("new-key"), help: "Generate the key (see --key-type) if the --key file does not exist.")
        var newKey = false

        @OptionGroup var keyOptions: KeyOptions

        @OptionGroup var password: PasswordOptions

        @Flag(help: "Replace an existing --out file.")
        var force = false

        func run() throws {
            try Cert.run {
                let names = try san.map { try SubjectAltName(parsing: $0) }
                let distinguishedName = try DistinguishedName(parsing: subject)
                let privateKey: PKey
                if newKey && !FileManager.default.fileExists(atPath: key) {
                    privateKey = try CertificateIssuer.generateKey(keyOptions.kind())
                    try OutputFile.write(Crypto.dumpPrivateKey(.pem, privateKey), to: key, mode: OutputFile.privateMode)
                    StandardStream.error.write("wrote new key \(key) (mode 0600)\n")
                } else {
                    let bytes = try OutputFile.read(key, what: "private key")
                    do {
                        privateKey = try Crypto.loadPrivateKey(.pem, bytes, passphrase: password.value().map { .bytes($0) })
                    } catch let error as CertificateToolError {
                        throw error
                    } catch {
                        throw CertificateToolError("\(key) is not a PEM private key (or it is encrypted: pass --password): \(error)")
                    }
                }
                let pem = try CertificateRequestBuilder.make(key: privateKey, subject: distinguishedName, names: names)
                if let out {
                    try OutputFile.write(pem, to: out, mode: OutputFile.publicMode, overwrite: force)
                    print("CSR: \(out)")
                } else {
                    StandardStream.output.write(pem)
                }
            }
        }
    }

    struct Bundle: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pkcs12", abstract: "Bundle a certificate, its key and CA certificates into a PKCS#12 file (mode 0600).")

        @Option(help: "The certificate (PEM).")
        var cert: String

        @Option(help: "Its private key (PEM).")
        var key: String

        @Option(help: "CA certificates to include (PEM, repeatable; a file may hold several).")
        var ca: [String] = []

        @Option(help: "The PKCS#12 file to write.")
        var out: String

        @Option(help: "Friendly name (alias) of the certificate in the bundle.")
        var name: String?

        @OptionGroup var password: PasswordOptions

        @Option(name: .customLong("key-password"), help: "Passphrase of an encrypted --key.")
        var keyPassword: String?

        @Flag(help: "Replace an existing --out file.")
        var force = false

        func run() throws {
            try Cert.run {
                guard let secret = try password.value() else {
                    throw CertificateToolError("a PKCS#12 bundle needs a password: --password, --password-env or --password-file")
                }
                let certificates = try PKCS12Bundler.loadCertificates(OutputFile.read(cert, what: "certificate"), name: cert)
                let keyBytes = try OutputFile.read(key, what: "private key")
                let privateKey: PKey
                do {
                    privateKey = try Crypto.loadPrivateKey(.pem, keyBytes, passphrase: keyPassword.map { .string($0) })
                } catch {
                    throw CertificateToolError("\(key) is not a PEM private key (or it is encrypted: pass --key-password): \(error)")
                }
                var chain = Array(certificates.dropFirst())
                for file in ca { chain += try PKCS12Bundler.loadCertificates(OutputFile.read(file, what: "CA certificate"), name: file) }
                let der = try PKCS12Bundler.make(certificate: certificates[0], key: privateKey, caCertificates: chain,
                                                 password: secret, friendlyName: name)
                try OutputFile.write(der, to: out, mode: OutputFile.privateMode, overwrite: force)
                print("PKCS#12 bundle: \(out) (mode 0600; certificate, key and \(chain.count) CA certificate(s))")
            }
        }
    }
}
