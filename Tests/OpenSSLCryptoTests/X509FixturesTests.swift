import Foundation
import Testing
@testable import OpenSSLCrypto

// Shared helpers for the X.509 tests: a temporary directory, the `openssl` CLI as an independent oracle,
// key generation through the CLI (key generation belongs to the PKey wrapper), and a certificate builder
// that uses only the API under test.

/// A directory under the system temp dir, removed when the value is released.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-x509-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult
    func write(_ name: String, _ bytes: some Collection<UInt8>) throws -> String {
        let target = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    func read(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path(name))))
    }
}

struct CommandResult {
    let status: Int32
    let stdout: [UInt8]
    let stderr: String
    var text: String { String(decoding: stdout, as: UTF8.self) }
}

struct CommandFailed: Error, CustomStringConvertible {
    let arguments: [String]
    let result: CommandResult
    var description: String { "openssl \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)" }
}

/// Runs `/usr/bin/openssl` with `arguments`, feeding `input` on stdin.
func runOpenSSL(_ arguments: [String], input: [UInt8] = [], in directory: TemporaryDirectory? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory.url }
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    // Drain stderr on another thread while stdout is read here, so neither pipe can fill up and block the child.
    let errorData = LockedBox(Data())
    let errorDone = DispatchSemaphore(value: 0)
    let errorHandle = stderr.fileHandleForReading
    DispatchQueue.global().async {
        errorData.value = errorHandle.readDataToEndOfFile()
        errorDone.signal()
    }
    stdin.fileHandleForWriting.write(Data(input))
    try stdin.fileHandleForWriting.close()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    errorDone.wait()
    return CommandResult(status: process.terminationStatus, stdout: Array(output),
                         stderr: String(decoding: errorData.value, as: UTF8.self))
}

/// Runs `openssl` and throws unless it exits 0.
@discardableResult
func openssl(_ arguments: [String], input: [UInt8] = [], in directory: TemporaryDirectory? = nil) throws -> CommandResult {
    let result = try runOpenSSL(arguments, input: input, in: directory)
    guard result.status == 0 else { throw CommandFailed(arguments: arguments, result: result) }
    return result
}

final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

enum KeyKind {
    case ecP256, rsa2048
    var arguments: [String] {
        switch self {
        case .ecP256: ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        case .rsa2048: ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        }
    }
}

/// A fresh private key from `openssl genpkey`, as PEM and loaded.
func generateKey(_ kind: KeyKind = .ecP256) throws -> (pem: [UInt8], key: PKey) {
    let pem = try openssl(kind.arguments).stdout
    return (pem, try Crypto.loadPrivateKey(.pem, pem))
}

/// Expects `body` to throw, checks that the thread's OpenSSL error queue is empty afterwards, and returns
/// the error for further checks.
@discardableResult
func expectThrowsCleanly<T>(
    _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T
) -> (any Error)? {
    do {
        _ = try body()
        Issue.record("expected an error \(comment.map { "(\($0))" } ?? "")", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(OpenSSLErrorQueue.isEmpty, "error queue not drained after \(error)", sourceLocation: sourceLocation)
        return error
    }
}

func isInvalidArgument(_ error: (any Error)?) -> Bool {
    if case .invalidArgument? = error as? CryptoError { return true }
    return false
}

func isOpenSSLError(_ error: (any Error)?) -> Bool {
    if case .openSSL(let entries)? = error as? CryptoError { return !entries.isEmpty }
    return false
}

/// A certificate together with its private key.
struct Issued {
    let cert: X509
    let key: PKey
    let keyPEM: [UInt8]
    var pem: [UInt8] { (try? Crypto.dumpCertificate(.pem, cert)) ?? [] }
}

/// Builds and signs a v3 certificate with the API under test. `issuer` nil means self-signed.
func issue(
    commonName: String, issuer: Issued? = nil, isCA: Bool = false, serial: X509SerialNumber = 1,
    notBefore: Int = -3600, notAfter: Int = 86_400 * 30, keyKind: KeyKind = .ecP256
) throws -> Issued {
    let (keyPEM, key) = try generateKey(keyKind)
    let cert = try X509()
    try cert.setVersion(2)
    try cert.setSerialNumber(serial)
    try cert.getSubject().set(.commonName, commonName)
    if let issuer {
        try cert.setIssuer(issuer.cert.getSubject())
    } else {
        try cert.setIssuer(cert.getSubject())
    }
    try cert.gmtimeAdjNotBefore(notBefore)
    try cert.gmtimeAdjNotAfter(notAfter)
    try cert.setPubkey(key)
    try cert.addExtensions([
        try X509Extension(typeName: "basicConstraints", critical: true, value: isCA ? "CA:TRUE" : "CA:FALSE"),
        try X509Extension(typeName: "keyUsage", critical: true,
                          value: isCA ? "keyCertSign, cRLSign" : "digitalSignature, keyEncipherment"),
        try X509Extension(typeName: "subjectKeyIdentifier", critical: false, value: "hash", subject: cert),
    ])
    // After the SKI is in: a self-signed certificate's AKI is copied from its own SKI.
    try cert.addExtensions([
        try X509Extension(typeName: "authorityKeyIdentifier", critical: false, value: "keyid:always",
                          subject: cert, issuer: issuer?.cert ?? cert),
    ])
    try cert.sign(key: issuer?.key ?? key, digest: "sha256")
    return Issued(cert: cert, key: key, keyPEM: keyPEM)
}

/// root (self-signed CA) -> intermediate (CA) -> leaf.
struct Chain {
    let root: Issued
    let intermediate: Issued
    let leaf: Issued

    init(leafNotAfter: Int = 86_400 * 30) throws {
        root = try issue(commonName: "Portcullis Test Root CA", isCA: true, serial: 1)
        intermediate = try issue(commonName: "intermediate", issuer: root, isCA: true, serial: 2)
        leaf = try issue(commonName: "leaf.example", issuer: intermediate, serial: 3, notAfter: leafNotAfter)
    }
}

/// Seconds since the epoch for GeneralizedTime text `YYYYMMDDhhmmssZ`.
func epochSeconds(generalizedTime text: String) -> Int? {
    let bytes = Array(text.utf8)
    guard bytes.count == 15, bytes[14] == UInt8(ascii: "Z") else { return nil }
    func number(_ range: Range<Int>) -> Int32? { Int32(String(decoding: bytes[range], as: UTF8.self)) }
    guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
          let hour = number(8..<10), let minute = number(10..<12), let second = number(12..<14) else { return nil }
    var parts = tm()
    parts.tm_year = year - 1900
    parts.tm_mon = month - 1
    parts.tm_mday = day
    parts.tm_hour = hour
    parts.tm_min = minute
    parts.tm_sec = second
    return Int(timegm(&parts))
}

@Suite struct X509FixturesTests {
    @Test func builtChainVerifiesWithTheOpenSSLCommandLine() throws {
        let chain = try Chain()
        let dir = try TemporaryDirectory()
        try dir.write("root.pem", chain.root.pem)
        try dir.write("int.pem", chain.intermediate.pem)
        try dir.write("leaf.pem", chain.leaf.pem)
        let result = try openssl(["verify", "-CAfile", "root.pem", "-untrusted", "int.pem", "leaf.pem"], in: dir)
        #expect(result.text == "leaf.pem: OK\n")
    }

    @Test func epochHelperMatchesKnownInstant() {
        #expect(epochSeconds(generalizedTime: "20000101000000Z") == 946_684_800)
        #expect(epochSeconds(generalizedTime: "2000") == nil)
    }
}
