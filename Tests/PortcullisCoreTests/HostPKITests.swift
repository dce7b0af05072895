import Foundation
import Testing
@testable import OpenSSLSSL
@testable import PortcullisCore

/// Certificates for the host and policy tests, made once per process with the `openssl` CLI in a temp dir.
///
/// - `ca` signs every server and client certificate; `otherCA` signs `strangerClient` (the "wrong CA" case).
/// - Servers (ECDSA P-256 unless noted): `www` (www.example.com), `wild` (*.example.com), `fallback`
///   (fallback.test), `api` (api.example.com), `apiRSA` (api.example.com, RSA-2048).
/// - `client`: CN=billing, OU=ops, SAN DNS:billing.clients.example.com, URI:spiffe://corp.example/ns/prod/billing.
/// - `encryptedKey`: `www`'s key encrypted with the passphrase "s3cret".
struct HostPKI: Sendable {
    struct Identity: Sendable {
        let certificate: String
        let key: String
    }

    let directory: String
    let ca: Identity
    let otherCA: Identity
    let www: Identity
    let wild: Identity
    let fallback: Identity
    let api: Identity
    let apiRSA: Identity
    let client: Identity
    let strangerClient: Identity
    let encryptedKey: String

    static func shared() throws -> HostPKI { try generated.get() }
    private static let generated: Result<HostPKI, any Error> = Result { try HostPKI.generate() }

    private static func generate() throws -> HostPKI {
        let directory = NSTemporaryDirectory() + "portcullis-hosts-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { "\(directory)/\(name)" }
        func root(_ name: String, _ cn: String) throws -> Identity {
            try openssl(["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", path("\(name).key"), "-out", path("\(name).pem"), "-days", "30", "-subj", "/CN=\(cn)",
                         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            return Identity(certificate: path("\(name).pem"), key: path("\(name).key"))
        }
        func leaf(_ name: String, subject: String, extensions: String, issuer: Identity, rsa: Bool = false) throws -> Identity {
            let keyOptions = rsa ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
            try openssl(["req", "-new"] + keyOptions + ["-nodes", "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", subject])
            try extensions.write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
            try openssl(["x509", "-req", "-in", path("\(name).csr"), "-CA", issuer.certificate, "-CAkey", issuer.key,
                         "-CAcreateserial", "-out", path("\(name).pem"), "-days", "30", "-extfile", path("\(name).ext")])
            chmod(path("\(name).key"), 0o600)
            return Identity(certificate: path("\(name).pem"), key: path("\(name).key"))
        }
        func server(_ name: String, _ dns: String, rsa: Bool = false) throws -> Identity {
            try leaf(name, subject: "/CN=\(dns)", extensions: "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:\(dns)\n", issuer: ca, rsa: rsa)
        }
        let ca = try root("ca", "Portcullis Host Test CA")
        let otherCA = try root("other-ca", "Some Other CA")
        let clientExtensions = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:billing.clients.example.com,URI:spiffe://corp.example/ns/prod/billing\n"
        let www = try server("www", "www.example.com")
        try openssl(["pkey", "-in", www.key, "-aes256", "-passout", "pass:s3cret", "-out", path("www-encrypted.key")])
        chmod(path("www-encrypted.key"), 0o600)
        return HostPKI(
            directory: directory, ca: ca, otherCA: otherCA, www: www,
            wild: try server("wild", "*.example.com"), fallback: try server("fallback", "fallback.test"),
            api: try server("api", "api.example.com"), apiRSA: try server("api-rsa", "api.example.com", rsa: true),
            client: try leaf("client", subject: "/O=Corp/OU=ops/CN=billing", extensions: clientExtensions, issuer: ca),
            strangerClient: try leaf("stranger", subject: "/OU=ops/CN=billing", extensions: clientExtensions, issuer: otherCA),
            encryptedKey: path("www-encrypted.key"))
    }

    /// Runs the `openssl` CLI; throws with its stderr when it exits non-zero. Returns its stdout.
    @discardableResult
    static func openssl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        // stdout goes to a file so that a large output and stderr can never both block on full pipes.
        let outputPath = NSTemporaryDirectory() + "portcullis-openssl-\(UUID().uuidString).out"
        guard FileManager.default.createFile(atPath: outputPath, contents: nil) else { throw HostTestFailure("cannot create \(outputPath)") }
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let outputHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = outputHandle
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let errorText = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try outputHandle.close()
        guard process.terminationStatus == 0 else {
            throw HostTestFailure("openssl \(arguments.joined(separator: " ")): \(String(decoding: errorText, as: UTF8.self))")
        }
        return String(decoding: try Data(contentsOf: URL(fileURLWithPath: outputPath)), as: UTF8.self)
    }
}

struct HostTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A host configuration with one certificate and a backend that is never contacted by these tests.
func hostConfiguration(
    _ name: String, _ identity: HostPKI.Identity, names: [String], client: ClientPolicyConfiguration = ClientPolicyConfiguration(),
    tls: TLSSettings = TLSSettings()
) -> HostConfiguration {
    HostConfiguration(
        name: name, serverNames: names, certificates: [CertificateConfiguration(chainFile: identity.certificate, keyFile: identity.key)],
        backends: [.tcp(host: "127.0.0.1", port: 9)], tls: tls, client: client)
}

/// A one-listener configuration serving `hosts`.
func proxyConfiguration(_ hosts: [HostConfiguration], defaultHost: String?, strictSNI: Bool = false) -> ProxyConfiguration {
    ProxyConfiguration(
        listeners: [ListenerConfiguration(
            name: "test", addresses: [ListenAddress(host: "127.0.0.1", port: 0, family: .ipv4)], hosts: hosts.map(\.name),
            defaultHost: defaultHost, strictSNI: strictSNI)],
        hosts: hosts)
}

/// A logger that records what it is told (for the key-permission warning).
final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var messages: [String] { lock.withLock { lines } }
}

import Logging

struct CapturingHandler: LogHandler {
    let log: CapturedLog
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { log.append("\(event.level) \(event.message) \(event.metadata ?? [:])") }
}

func capturingLogger(_ log: CapturedLog) -> Logger {
    Logger(label: "test") { _ in CapturingHandler(log: log) }
}

/// Outcome of an in-process handshake over memory BIOs.
struct HandshakeOutcome {
    let client: Connection
    let server: Connection
    let clientError: (any Error)?
    let serverError: (any Error)?
    var succeeded: Bool { clientError == nil && serverError == nil }
}

/// Runs a TLS handshake between a client and a server made from `listener`'s context, moving bytes between
/// their memory BIOs, then one round of application data so TLS 1.3 tickets reach the client.
func handshake(
    listener: ListenerTLS, serverName: String?, clientCertificate: HostPKI.Identity? = nil, trust: String? = nil,
    session: Session? = nil, clientContext: Context? = nil, configureClient: (Context) throws -> Void = { _ in },
    configureConnection: (Connection) throws -> Void = { _ in }
) throws -> HandshakeOutcome {
    let context: Context
    if let clientContext {
        context = clientContext
    } else {
        context = try Context(method: .tlsClient)
        if let clientCertificate {
            try context.useCertificateChainFile(clientCertificate.certificate)
            try context.usePrivateKeyFile(clientCertificate.key)
        }
        if let trust { try context.loadVerifyLocations(caFile: trust) }
        try configureClient(context)
    }
    let client = try Connection(context: context)
    client.setConnectState()
    if let serverName { try client.setTLSExtHostName(serverName) }
    if let session { try client.setSession(session) }
    try configureConnection(client)
    let server = try Connection(context: listener.context)
    server.setAcceptState()
    var clientDone = false, serverDone = false
    var clientError: (any Error)?, serverError: (any Error)?
    for _ in 0..<50 {
        if !clientDone && clientError == nil {
            switch client.handshakeStep() {
            case .done: clientDone = true
            case .failed(let error): clientError = error
            case .closed, .unexpectedEOF: clientError = HostTestFailure("client: connection closed")
            case .wantRead, .wantWrite: break
            }
        }
        try shuttle(from: client, to: server)
        if !serverDone && serverError == nil {
            switch server.handshakeStep() {
            case .done: serverDone = true
            case .failed(let error): serverError = error
            case .closed, .unexpectedEOF: serverError = HostTestFailure("server: connection closed")
            case .wantRead, .wantWrite: break
            }
        }
        try shuttle(from: server, to: client)
        if (clientDone && serverDone) || (clientError != nil && serverError != nil) { break }
        if (clientError != nil || serverError != nil) && client.bioPending() == 0 && server.bioPending() == 0 {
            // One side failed; let the other read the alert.
            if clientError == nil && !clientDone, case .failed(let error) = client.handshakeStep() { clientError = error }
            if serverError == nil && !serverDone, case .failed(let error) = server.handshakeStep() { serverError = error }
            break
        }
    }
    if clientDone && serverDone {
        // Application data both ways: delivers TLS 1.3 NewSessionTickets and proves the connection works.
        _ = try server.send(Array("ping".utf8))
        try shuttle(from: server, to: client)
        _ = try client.recv(16)
        _ = try client.send(Array("pong".utf8))
        try shuttle(from: client, to: server)
        _ = try server.recv(16)
    }
    return HandshakeOutcome(client: client, server: server, clientError: clientError, serverError: serverError)
}

private func shuttle(from source: Connection, to destination: Connection) throws {
    while source.bioPending() > 0 {
        let bytes = try source.bioRead(65536)
        _ = try destination.bioWrite(bytes)
    }
}

@Suite struct HostPKITests {
    @Test func generatedCertificatesChainToTheTestCA() throws {
        let pki = try HostPKI.shared()
        for identity in [pki.www, pki.wild, pki.api, pki.apiRSA, pki.client] {
            try HostPKI.openssl(["verify", "-CAfile", pki.ca.certificate, identity.certificate])
        }
        #expect(throws: HostTestFailure.self) { try HostPKI.openssl(["verify", "-CAfile", pki.ca.certificate, pki.strangerClient.certificate]) }
    }
}
