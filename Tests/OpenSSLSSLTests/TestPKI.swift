import Foundation
import Glibc
import Testing
@testable import OpenSSLSSL

/// Test certificates made once per test process with the `openssl` CLI, in a fresh temporary directory.
///
/// - `ca`: a self-signed root ("Portcullis Test CA").
/// - `server`: CN=localhost, SAN DNS:localhost + IP:127.0.0.1, signed by `ca` (serverAuth).
/// - `client`: CN=Portcullis Test Client, signed by `ca` (clientAuth).
/// - `intermediate`: an intermediate CA under `ca`; `chainServer` is a localhost leaf under it, and
///   `chainServerChainPEM` holds leaf + intermediate (what a server sends).
/// - `ca2` / `client2`: an unrelated root and a client it signed, for "wrong CA" cases.
///
/// All keys are ECDSA P-256 (fast, and accepted at security level 2).
struct TestPKI: Sendable {
    struct Identity: Sendable {
        /// Path of the PEM certificate.
        let certPath: String
        /// Path of the unencrypted PEM private key.
        let keyPath: String
        var certPEM: String { (try? String(contentsOfFile: certPath, encoding: .utf8)) ?? "" }
        var keyPEM: String { (try? String(contentsOfFile: keyPath, encoding: .utf8)) ?? "" }
    }

    let directory: String
    let ca: Identity
    let server: Identity
    let client: Identity
    let intermediate: Identity
    let chainServer: Identity
    /// Leaf + intermediate, PEM, for `useCertificateChainFile`.
    let chainServerChainPath: String
    let ca2: Identity
    let client2: Identity

    /// The process-wide material (generated on first use).
    static func shared() throws -> TestPKI { try generated.get() }

    private static let generated: Result<TestPKI, any Error> = Result { try TestPKI.generate() }

    private static func generate() throws -> TestPKI {
        let directory = NSTemporaryDirectory() + "portcullis-pki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { directory + "/" + name }
        func identity(_ name: String) -> Identity { Identity(certPath: path(name + ".pem"), keyPath: path(name + ".key")) }

        try write(path("ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n")
        try write(path("server.ext"), """
            basicConstraints=critical,CA:FALSE
            keyUsage=critical,digitalSignature
            extendedKeyUsage=serverAuth
            subjectAltName=DNS:localhost,IP:127.0.0.1
            authorityKeyIdentifier=keyid
            subjectKeyIdentifier=hash

            """)
        try write(path("client.ext"), """
            basicConstraints=critical,CA:FALSE
            keyUsage=critical,digitalSignature
            extendedKeyUsage=clientAuth
            authorityKeyIdentifier=keyid
            subjectKeyIdentifier=hash

            """)
        try write(path("intermediate.ext"), """
            basicConstraints=critical,CA:TRUE,pathlen:0
            keyUsage=critical,keyCertSign,cRLSign
            authorityKeyIdentifier=keyid
            subjectKeyIdentifier=hash

            """)

        func makeRoot(_ name: String, _ subject: String) throws {
            try openssl(["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", path(name + ".key"), "-out", path(name + ".pem"), "-days", "3650",
                         "-subj", subject, "-sha256",
                         "-addext", "basicConstraints=critical,CA:TRUE",
                         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        }
        func makeSigned(_ name: String, _ subject: String, issuer: String, ext: String, serial: Int) throws {
            try openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj", subject])
            try openssl(["x509", "-req", "-in", path(name + ".csr"), "-CA", path(issuer + ".pem"),
                         "-CAkey", path(issuer + ".key"), "-set_serial", String(serial), "-days", "3650",
                         "-sha256", "-extfile", path(ext), "-out", path(name + ".pem")])
        }
        try makeRoot("ca", "/O=Portcullis Tests/CN=Portcullis Test CA")
        try makeSigned("server", "/O=Portcullis Tests/CN=localhost", issuer: "ca", ext: "server.ext", serial: 2)
        try makeSigned("client", "/O=Portcullis Tests/CN=Portcullis Test Client", issuer: "ca", ext: "client.ext", serial: 3)
        try makeSigned("intermediate", "/O=Portcullis Tests/CN=Portcullis Test Intermediate", issuer: "ca",
                       ext: "intermediate.ext", serial: 4)
        try makeSigned("chainserver", "/O=Portcullis Tests/CN=localhost", issuer: "intermediate", ext: "server.ext", serial: 5)
        try makeRoot("ca2", "/O=Portcullis Tests/CN=Portcullis Other CA")
        try makeSigned("client2", "/O=Portcullis Tests/CN=Portcullis Other Client", issuer: "ca2", ext: "client.ext", serial: 6)

        let chain = try String(contentsOfFile: path("chainserver.pem"), encoding: .utf8)
            + String(contentsOfFile: path("intermediate.pem"), encoding: .utf8)
        try write(path("chainserver-chain.pem"), chain)

        return TestPKI(directory: directory, ca: identity("ca"), server: identity("server"), client: identity("client"),
                       intermediate: identity("intermediate"), chainServer: identity("chainserver"),
                       chainServerChainPath: path("chainserver-chain.pem"), ca2: identity("ca2"),
                       client2: identity("client2"))
    }

    private static func write(_ path: String, _ text: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Runs the `openssl` CLI with a closed stdin (it never prompts) and fails with its stderr.
    static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSupportError("openssl \(arguments.joined(separator: " ")) failed: "
                + String(decoding: message, as: UTF8.self))
        }
    }
}

/// A failure of the test support code itself.
struct TestSupportError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Loopback sockets

/// Ignores SIGPIPE once per process: writes to a socket whose peer closed must fail with EPIPE instead of
/// killing the test runner.
let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

/// A connected TCP pair on 127.0.0.1 (listener bound to port 0, then closed). Both ends non-blocking unless
/// `nonBlocking` is false. The caller closes both descriptors (`closeSocket`).
func loopbackSocketPair(nonBlocking: Bool = true) throws -> (client: Int32, server: Int32) {
    _ = ignoreSIGPIPE
    let listener = try listeningSocket()
    defer { close(listener.fd) }
    let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard client >= 0 else { throw TestSupportError("socket: errno \(errno)") }
    var address = loopbackAddress(port: listener.port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { close(client); throw TestSupportError("connect: errno \(errno)") }
    let server = accept(listener.fd, nil, nil)
    guard server >= 0 else { close(client); throw TestSupportError("accept: errno \(errno)") }
    if nonBlocking {
        setNonBlocking(client)
        setNonBlocking(server)
    }
    return (client, server)
}

/// A listening TCP socket on 127.0.0.1 with a kernel-chosen port.
func listeningSocket() throws -> (fd: Int32, port: UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSupportError("socket: errno \(errno)") }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw TestSupportError("bind/listen: errno \(errno)") }
    var actual = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &actual) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, UInt16(bigEndian: actual.sin_port))
}

/// A free TCP port on 127.0.0.1 (bound, read back, released) for a child process to listen on.
func freeLoopbackPort() throws -> UInt16 {
    let listener = try listeningSocket()
    close(listener.fd)
    return listener.port
}

func loopbackAddress(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}

func setNonBlocking(_ fd: Int32) {
    let flags = fcntl(fd, F_GETFL)
    _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
}

func closeSocket(_ fd: Int32) { if fd >= 0 { close(fd) } }

// MARK: - Driving two connections in one thread

/// One non-throwing handshake step: true when done, false on wantRead/wantWrite, throws anything else.
func handshakeStepDone(_ connection: Connection) throws -> Bool {
    do {
        try connection.doHandshake()
        return true
    } catch SSLError.wantRead {
        return false
    } catch SSLError.wantWrite {
        return false
    }
}

/// Moves every ciphertext byte waiting in `source`'s outgoing memory BIO into `destination`. Returns the count.
@discardableResult
func moveCiphertext(from source: Connection, to destination: Connection) throws -> Int {
    var moved = 0
    for _ in 0..<10_000 {
        let chunk: [UInt8]
        do { chunk = try source.bioRead(65536) } catch SSLError.wantRead { return moved }
        try destination.bioWrite(chunk)
        moved += chunk.count
    }
    throw TestSupportError("moveCiphertext did not drain")
}

/// Moves ciphertext both ways until neither side has anything left to send.
func pump(_ a: Connection, _ b: Connection) throws {
    for _ in 0..<1000 {
        let moved = try moveCiphertext(from: a, to: b) + moveCiphertext(from: b, to: a)
        if moved == 0 { return }
    }
    throw TestSupportError("pump did not settle")
}

/// Completes a handshake between two memory-BIO connections (client in connect state, server in accept
/// state; sets those states). Throws the first error either side reports other than wantRead/wantWrite.
func handshake(client: Connection, server: Connection) throws {
    client.setConnectState()
    server.setAcceptState()
    var clientDone = false
    var serverDone = false
    for _ in 0..<100 {
        if !clientDone { clientDone = try handshakeStepDone(client) }
        try moveCiphertext(from: client, to: server)
        if !serverDone { serverDone = try handshakeStepDone(server) }
        try moveCiphertext(from: server, to: client)
        if clientDone && serverDone { return }
    }
    throw TestSupportError("memory-BIO handshake did not complete in 100 rounds")
}

/// Completes a handshake between two socket connections driven from one thread (both fds non-blocking).
/// Bounded by `timeout` seconds.
func handshakeOverSockets(client: Connection, server: Connection, timeout: Double = 10) throws {
    client.setConnectState()
    server.setAcceptState()
    var clientDone = false
    var serverDone = false
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if !clientDone { clientDone = try handshakeStepDone(client) }
        if !serverDone { serverDone = try handshakeStepDone(server) }
        if clientDone && serverDone { return }
        usleep(200)
    }
    throw TestSupportError("socket handshake did not complete within \(timeout) s")
}

// MARK: - Ready-made contexts

extension TestPKI {
    /// A server Context with `identity` (default: `server`), TLS 1.2+ by default.
    func makeServerContext(
        _ identity: KeyPath<TestPKI, Identity> = \.server, method: SSL.Method = .tls, maxVersion: Int32? = nil
    ) throws -> Context {
        let context = try Context(method: method)
        try context.useCertificateFile(self[keyPath: identity].certPath)
        try context.usePrivateKeyFile(self[keyPath: identity].keyPath)
        if let maxVersion { try context.setMaxProtoVersion(maxVersion) }
        return context
    }

    /// A client Context trusting `ca` and verifying the server (VERIFY_PEER), optionally with a client identity.
    func makeClientContext(
        verify: Bool = true, identity: KeyPath<TestPKI, Identity>? = nil, method: SSL.Method = .tls,
        maxVersion: Int32? = nil
    ) throws -> Context {
        let context = try Context(method: method)
        try context.loadVerifyLocations(caFile: ca.certPath)
        if verify { try context.setVerify(SSL.VERIFY_PEER) }
        if let identity {
            try context.useCertificateFile(self[keyPath: identity].certPath)
            try context.usePrivateKeyFile(self[keyPath: identity].keyPath)
        }
        if let maxVersion { try context.setMaxProtoVersion(maxVersion) }
        return context
    }

    /// A client and a server memory-BIO Connection on fresh default contexts, handshaken.
    func connectedMemoryPair(maxVersion: Int32? = nil) throws -> (client: Connection, server: Connection) {
        let server = try Connection(context: makeServerContext(maxVersion: maxVersion))
        let client = try Connection(context: makeClientContext(maxVersion: maxVersion))
        try handshake(client: client, server: server)
        return (client, server)
    }
}
