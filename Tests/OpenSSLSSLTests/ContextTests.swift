import Foundation
import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

// MARK: - Helpers shared by the Context test files

/// A fresh temporary directory for one test.
func contextTestDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "portcullis-ctx-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The OpenSSL queue entries of an `SSLError.openSSL`, or nil for any other error.
func openSSLEntries(_ error: any Error) -> [OpenSSLErrorEntry]? {
    if case SSLError.openSSL(let entries) = error { return entries }
    return nil
}

/// Runs `body`, requires it to throw `SSLError.openSSL`, checks that one entry's reason contains `reason`
/// (when given) and that the thread's error queue is empty afterwards. Returns the entries.
@discardableResult
func expectOpenSSLFailure(
    reason: String? = nil, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> [OpenSSLErrorEntry] {
    do {
        try body()
        Issue.record("expected an OpenSSL error", sourceLocation: sourceLocation)
        return []
    } catch {
        guard let entries = openSSLEntries(error) else {
            Issue.record("expected SSLError.openSSL, got \(error)", sourceLocation: sourceLocation)
            return []
        }
        if let reason {
            #expect(entries.contains { $0.reason.contains(reason) }, "\(entries)", sourceLocation: sourceLocation)
        }
        #expect(OpenSSLErrorQueue.isEmpty, "error queue not drained", sourceLocation: sourceLocation)
        return entries
    }
}

/// A server Context with the test PKI's localhost certificate and key.
func makeServerContext(_ pki: TestPKI, method: SSL.Method = .tlsServer) throws -> Context {
    let context = try Context(method: method)
    try context.useCertificateFile(pki.server.certPath)
    try context.usePrivateKeyFile(pki.server.keyPath)
    return context
}

/// A client Context that trusts the test CA and verifies the server.
func makeClientContext(_ pki: TestPKI, verify: Bool = true) throws -> Context {
    let context = try Context(method: .tlsClient)
    try context.loadVerifyLocations(caFile: pki.ca.certPath)
    if verify { try context.setVerify(SSL.VERIFY_PEER) }
    return context
}

/// Writes `text` to `directory/name` and returns the path.
func writeFile(_ directory: String, _ name: String, _ text: String) throws -> String {
    let path = directory + "/" + name
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

// MARK: - Context(method:)

@Suite struct ContextMethodTests {
    @Test func everyMethodConstructs() throws {
        for method in SSL.Method.allCases {
            let context = try Context(method: method)
            #expect(context.getMode() & (SSL.MODE_ENABLE_PARTIAL_WRITE | SSL.MODE_ACCEPT_MOVING_WRITE_BUFFER) == 3)
        }
    }

    @Test func numericMethods() throws {
        _ = try Context(methodRawValue: 3)
        _ = try Context(methodRawValue: 12)
        #expect(throws: SSLError.self) { try Context(methodRawValue: 13) }
        do {
            _ = try Context(methodRawValue: 13)
        } catch SSLError.invalidArgument(let message) {
            #expect(message == "No such protocol")
        }
        for raw in [1, 2] {
            do {
                _ = try Context(methodRawValue: raw)
                Issue.record("SSLv\(raw + 1) accepted")
            } catch SSLError.unsupported(let message) {
                #expect(message.contains("SSLv\(raw + 1)"))
            }
        }
        #expect(SSL.Method(rawValue: 4) == .tlsv1 && SSL.SSLv23_METHOD.rawValue == 3 && SSL.DTLS_CLIENT_METHOD.rawValue == 12)
    }

    @Test func pinnedVersionsAndSecureDefault() throws {
        let v12 = try Context(method: .tlsv1_2)
        #expect(v12.getMinProtoVersion() == SSL.TLS1_2_VERSION && v12.getMaxProtoVersion() == SSL.TLS1_2_VERSION)
        let v1 = try Context(method: .tlsv1)
        #expect(v1.getMinProtoVersion() == SSL.TLS1_VERSION && v1.getMaxProtoVersion() == SSL.TLS1_VERSION)
        let flexible = try Context(method: .tls)
        #expect(flexible.getMinProtoVersion() == SSL.TLS1_2_VERSION && flexible.getMaxProtoVersion() == 0)
        #expect(flexible.getOptions() & SSL.OP_NO_COMPRESSION != 0)
        try flexible.setMinProtoVersion(0)
        #expect(flexible.getMinProtoVersion() == 0)
    }

    @Test func freshContextDefaults() throws {
        let context = try Context(method: .tls)
        #expect(context.getTimeout() == 7200)
        #expect(context.getSessionCacheMode() == SSL.SESS_CACHE_SERVER)
        #expect(context.getVerifyMode() == 0)
        #expect(context.getVerifyDepth() == -1)
        #expect(context.getOptions() == 0x120000)
        #expect(context.sessNumber() == 0)
        #expect(context.sessionTicketsEnabled)
    }
}

// MARK: - Certificates and keys

@Suite struct ContextCredentialTests {
    @Test func useCertificateAndKeyObjects() throws {
        let pki = try TestPKI.shared()
        let context = try Context(method: .tls)
        try context.useCertificate(Crypto.loadCertificate(.pem, pki.server.certPEM))
        try context.usePrivateKey(Crypto.loadPrivateKey(.pem, pki.server.keyPEM))
        try context.checkPrivateKey()
    }

    @Test func mismatchedKeyIsRefused() throws {
        let pki = try TestPKI.shared()
        let context = try Context(method: .tls)
        try context.useCertificate(Crypto.loadCertificate(.pem, pki.server.certPEM))
        expectOpenSSLFailure(reason: "key values mismatch") {
            try context.usePrivateKey(Crypto.loadPrivateKey(.pem, pki.client.keyPEM))
        }
    }

    @Test func checkPrivateKeyDetectsMismatch() throws {
        let pki = try TestPKI.shared()
        // Loading the key first and the certificate second leaves a mismatched pair that only the check sees.
        let context = try Context(method: .tls)
        try context.usePrivateKey(Crypto.loadPrivateKey(.pem, pki.client.keyPEM))
        try context.useCertificate(Crypto.loadCertificate(.pem, pki.server.certPEM))
        expectOpenSSLFailure { try context.checkPrivateKey() }
        let empty = try Context(method: .tls)
        expectOpenSSLFailure { try empty.checkPrivateKey() }
    }

    @Test func emptyCertificateIsRefused() throws {
        let context = try Context(method: .tls)
        expectOpenSSLFailure { try context.useCertificate(X509()) }
        #expect(throws: SSLError.self) { try context.usePrivateKey(PKey()) }
    }

    @Test func filesWithNonASCIINames() throws {
        let pki = try TestPKI.shared()
        let directory = try contextTestDirectory()
        let certPath = try writeFile(directory, "certificat-\u{E9}\u{2603}.pem", pki.server.certPEM)
        let keyPath = try writeFile(directory, "cl\u{E9}-\u{2603}.pem", pki.server.keyPEM)
        let context = try Context(method: .tls)
        try context.useCertificateFile(certPath)
        try context.usePrivateKeyFile(keyPath)
        try context.checkPrivateKey()
        // DER too.
        let derPath = directory + "/cert.der"
        try TestPKI.openssl(["x509", "-in", certPath, "-outform", "DER", "-out", derPath])
        try Context(method: .tls).useCertificateFile(derPath, type: .asn1)
        #expect(throws: SSLError.self) { try context.useCertificateFile(certPath, type: .text) }
    }

    @Test func missingFilesFail() throws {
        let context = try Context(method: .tls)
        expectOpenSSLFailure { try context.useCertificateFile("/nonexistent/cert.pem") }
        expectOpenSSLFailure { try context.usePrivateKeyFile("/nonexistent/key.pem") }
        expectOpenSSLFailure { try context.useCertificateChainFile("/nonexistent/chain.pem") }
    }

    @Test func certificateChainFile() throws {
        let pki = try TestPKI.shared()
        let context = try Context(method: .tls)
        try context.useCertificateChainFile(pki.chainServerChainPath)
        try context.usePrivateKeyFile(pki.chainServer.keyPath)
        try context.checkPrivateKey()
    }

    @Test func addExtraChainCertKeepsItsOwnReference() throws {
        let pki = try TestPKI.shared()
        let context = try Context(method: .tls)
        do {
            let intermediate = try Crypto.loadCertificate(.pem, pki.intermediate.certPEM)
            try context.addExtraChainCert(intermediate)
        }
        // The Swift X509 is gone; the context must still hold a valid certificate (checked by a handshake in
        // ContextHandshakeTests.extraChainCertificatesAreSentAndVerified).
        try context.useCertificateFile(pki.chainServer.certPath)
    }
}

// MARK: - Passphrase callback

@Suite struct ContextPasswordTests {
    static let passphrase = String(repeating: "a", count: 1024)

    /// The test key encrypted with `passphrase` (AES-256, PKCS#8).
    static func encryptedKey() throws -> (directory: String, path: String) {
        let pki = try TestPKI.shared()
        let directory = try contextTestDirectory()
        let path = directory + "/encrypted.pem"
        try TestPKI.openssl(["pkey", "-in", pki.server.keyPath, "-aes256", "-passout", "pass:" + passphrase, "-out", path])
        return (directory, path)
    }

    final class Calls: @unchecked Sendable {
        let lock = NSLock()
        var values: [(Int, Bool, String?)] = []
        func append(_ value: (Int, Bool, String?)) { lock.withLock { values.append(value) } }
    }

    @Test func callbackDecryptsKeyOnceWithArguments() throws {
        let (_, path) = try Self.encryptedKey()
        let calls = Calls()
        let context = try Context(method: .tls)
        try context.setPasswdCb({ maxLength, verify, userdata in
            calls.append((maxLength, verify, userdata as? String))
            return Array(Self.passphrase.utf8)
        }, userdata: "opaque")
        try context.usePrivateKeyFile(path)
        #expect(calls.values.count == 1)
        #expect(calls.values.first?.0 == 1024 && calls.values.first?.1 == false && calls.values.first?.2 == "opaque")
    }

    @Test func tooLongPassphraseIsTruncated() throws {
        let (_, path) = try Self.encryptedKey()
        let context = try Context(method: .tls)
        try context.setPasswdCb { maxLength, _, _ in Array(repeating: UInt8(ascii: "a"), count: maxLength + 1) }
        try context.usePrivateKeyFile(path)
    }

    struct Marker: Error, Equatable {}

    @Test func callbackErrorIsRethrownUnchanged() throws {
        let (_, path) = try Self.encryptedKey()
        let context = try Context(method: .tls)
        try context.setPasswdCb { _, _, _ in throw Marker() }
        #expect(throws: Marker()) { try context.usePrivateKeyFile(path) }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func emptyPassphraseFails() throws {
        let (_, path) = try Self.encryptedKey()
        let context = try Context(method: .tls)
        try context.setPasswdCb { _, _, _ in [] }
        expectOpenSSLFailure { try context.usePrivateKeyFile(path) }
    }

    @Test func noCallbackFailsWithoutPrompting() throws {
        let (_, path) = try Self.encryptedKey()
        // stdin may be a terminal when run by hand: OpenSSL must not read it.
        expectOpenSSLFailure { try Context(method: .tls).usePrivateKeyFile(path) }
    }
}

// MARK: - Verification settings

@Suite struct ContextVerificationTests {
    @Test func verifyModeRoundTrip() throws {
        let context = try Context(method: .tls)
        #expect(context.getVerifyMode() == SSL.VERIFY_NONE)
        try context.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_CLIENT_ONCE)
        #expect(context.getVerifyMode() == SSL.VERIFY_PEER | SSL.VERIFY_CLIENT_ONCE)
    }

    @Test func verifyDepthRoundTrip() throws {
        let context = try Context(method: .tls)
        try context.setVerifyDepth(11)
        #expect(context.getVerifyDepth() == 11)
    }

    @Test func loadVerifyLocationsFailures() throws {
        let context = try Context(method: .tls)
        expectOpenSSLFailure { try context.loadVerifyLocations(caFile: "/nonexistent/ca.pem") }
        #expect(throws: SSLError.self) { try context.loadVerifyLocations(caFile: nil, caPath: nil) }
    }

    @Test func certStoreIsAView() throws {
        let context = try Context(method: .tls)
        let store = try #require(context.getCertStore())
        let again = try #require(context.getCertStore())
        #expect(store.pointer == again.pointer)
    }

    @Test func defaultVerifyPaths() throws {
        try Context(method: .tls).setDefaultVerifyPaths()
    }

    @Test func loadClientCA() throws {
        let pki = try TestPKI.shared()
        let directory = try contextTestDirectory()
        let both = try writeFile(directory, "cas.pem", pki.ca.certPEM + pki.ca2.certPEM)
        let context = try Context(method: .tls)
        try context.loadClientCA(both)
        let names = context.getClientCAList()
        #expect(names.count == 2)
        let empty = try writeFile(directory, "empty.pem", "")
        let entries = expectOpenSSLFailure { try context.loadClientCA(empty) }
        #expect(entries.contains { $0.library == "PEM routines" }, "\(entries)")
        // The failed call left the earlier list alone.
        #expect(context.getClientCAList().count == 2)
    }

    @Test func clientCAListSetAndAdd() throws {
        let pki = try TestPKI.shared()
        let ca = try Crypto.loadCertificate(.pem, pki.ca.certPEM)
        let ca2 = try Crypto.loadCertificate(.pem, pki.ca2.certPEM)
        let context = try Context(method: .tls)
        try context.setClientCAList([])
        #expect(context.getClientCAList().isEmpty)
        try context.addClientCA(ca)
        try context.addClientCA(ca2)
        #expect(context.getClientCAList().count == 2)
        // set replaces what add appended.
        let caName = try #require(context.getClientCAList().first)
        try context.setClientCAList([caName])
        #expect(context.getClientCAList().count == 1)
        try context.addClientCA(ca2)
        #expect(context.getClientCAList().count == 2)
    }
}

// MARK: - Protocol, ciphers, options, modes

@Suite struct ContextProtocolTests {
    @Test func cipherList() throws {
        let context = try Context(method: .tls)
        try context.setCipherList("hello world:ECDHE-ECDSA-AES128-GCM-SHA256")
        expectOpenSSLFailure(reason: "no cipher match") { try context.setCipherList("imaginary-cipher") }
        let entries = expectOpenSSLFailure { try context.setCipherList("imaginary-cipher") }
        #expect(entries.contains { $0.library == "SSL routines" && $0.function == "" })
    }

    @Test func tls13Ciphersuites() throws {
        let context = try Context(method: .tls)
        try context.setTLS13Ciphersuites("TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256")
        expectOpenSSLFailure { try context.setTLS13Ciphersuites("TLS_IMAGINARY") }
    }

    @Test func protoVersions() throws {
        let context = try Context(method: .tls)
        try context.setMinProtoVersion(SSL.TLS1_3_VERSION)
        try context.setMaxProtoVersion(0)
        #expect(context.getMinProtoVersion() == SSL.TLS1_3_VERSION && context.getMaxProtoVersion() == 0)
        expectOpenSSLFailure { try context.setMaxProtoVersion(0x1234) }
    }

    @Test func optionsAreSetReturnedAndCleared() throws {
        let context = try Context(method: .tls)
        let before = context.getOptions()
        let after = try context.setOptions(SSL.OP_NO_SSLv2 | SSL.OP_NO_TICKET)
        #expect(after == before | SSL.OP_NO_TICKET)
        #expect(!context.sessionTicketsEnabled)
        #expect(try context.clearOptions(SSL.OP_NO_TICKET) == before)
        try context.setSessionTicketsEnabled(false)
        #expect(context.getOptions() & SSL.OP_NO_TICKET != 0)
        try context.setSessionTicketsEnabled(true)
        #expect(context.getOptions() & SSL.OP_NO_TICKET == 0)
    }

    @Test func modesAreSetAndCleared() throws {
        let context = try Context(method: .tls)
        // OpenSSL 3.0 itself starts with AUTO_RETRY; Context adds PARTIAL_WRITE | ACCEPT_MOVING_WRITE_BUFFER.
        #expect(context.getMode() == SSL.MODE_AUTO_RETRY | 3)
        #expect(try context.setMode(SSL.MODE_RELEASE_BUFFERS) == SSL.MODE_RELEASE_BUFFERS | SSL.MODE_AUTO_RETRY | 3)
        #expect(try context.clearMode(SSL.MODE_RELEASE_BUFFERS | SSL.MODE_AUTO_RETRY) == 3)
        #expect(context.getMode() == 3)
    }

    @Test func groupsAndECDH() throws {
        let context = try Context(method: .tls)
        try context.setGroups(["X25519", "P-256"])
        try context.setGroupsList("P-384")
        for curve in ["prime256v1", "secp256r1", "secp384r1", "secp521r1", "X25519", "X448"] {
            try context.setTmpECDH(curve)
        }
        expectOpenSSLFailure { try context.setTmpECDH("secp112r1") }
        #expect(throws: SSLError.self) { try context.setGroups([]) }
        #expect(throws: SSLError.self) { try context.setGroups(["P-256:X25519"]) }
    }

    @Test func tmpDH() throws {
        let directory = try contextTestDirectory()
        let path = directory + "/dh-\u{E9}.pem"
        try TestPKI.openssl(["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", path])
        let context = try Context(method: .tls)
        try context.loadTmpDH(path)
        expectOpenSSLFailure { try context.loadTmpDH(directory + "/missing.pem") }
        let pki = try TestPKI.shared()
        #expect(throws: SSLError.self) { try context.loadTmpDH(pki.server.keyPath) }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func srtpProfiles() throws {
        let context = try Context(method: .tls)
        try context.setTLSExtUseSRTP("SRTP_AES128_CM_SHA1_80:SRTP_AES128_CM_SHA1_32")
        expectOpenSSLFailure { try context.setTLSExtUseSRTP("SRTP_BOGUS") }
    }
}

// MARK: - Sessions

@Suite struct ContextSessionSettingsTests {
    @Test func sessionId() throws {
        let context = try Context(method: .tls)
        try context.setSessionId(Array("abc".utf8))
        try context.setSessionId(Array(repeating: 0x41, count: 32))
        expectOpenSSLFailure(reason: "ssl session id context too long") {
            try context.setSessionId(Array(repeating: 0x41, count: 3000))
        }
        expectOpenSSLFailure { try context.setSessionId(Array(repeating: 0x41, count: 33)) }
    }

    @Test func sessionCacheMode() throws {
        let context = try Context(method: .tls)
        #expect(try context.setSessionCacheMode(SSL.SESS_CACHE_OFF) == SSL.SESS_CACHE_SERVER)
        #expect(try context.setSessionCacheMode(SSL.SESS_CACHE_BOTH) == SSL.SESS_CACHE_OFF)
        #expect(context.getSessionCacheMode() == SSL.SESS_CACHE_BOTH)
    }

    @Test func sessionCacheSizeAndTimeout() throws {
        let context = try Context(method: .tls)
        let previous = try context.setSessionCacheSize(100)
        #expect(previous == 1024 * 20)
        #expect(context.sessCacheSize() == 100)
        #expect(try context.setTimeout(1234) == 7200)
        #expect(context.getTimeout() == 1234)
        try context.setNumTickets(1)
        #expect(context.getNumTickets() == 1)
        #expect(throws: SSLError.self) { try context.setSessionCacheSize(-1) }
    }

    @Test func appData() throws {
        let context = try Context(method: .tls)
        #expect(context.getAppData() == nil)
        let object = NSObject()
        try context.setAppData(object)
        #expect(context.getAppData() as? NSObject === object)
        #expect(context.appData as? NSObject === object)
    }
}

// MARK: - Freezing

@Suite struct ContextFreezeTests {
    @Test func frozenContextRefusesEveryMutation() throws {
        let pki = try TestPKI.shared()
        let context = try makeServerContext(pki)
        #expect(!context.isFrozen)
        let connection = try Connection(context: context)
        #expect(context.isFrozen)
        let cert = try Crypto.loadCertificate(.pem, pki.server.certPEM)
        let key = try Crypto.loadPrivateKey(.pem, pki.server.keyPEM)
        let mutations: [(String, () throws -> Void)] = [
            ("useCertificate", { try context.useCertificate(cert) }),
            ("useCertificateFile", { try context.useCertificateFile(pki.server.certPath) }),
            ("useCertificateChainFile", { try context.useCertificateChainFile(pki.chainServerChainPath) }),
            ("usePrivateKey", { try context.usePrivateKey(key) }),
            ("usePrivateKeyFile", { try context.usePrivateKeyFile(pki.server.keyPath) }),
            ("addExtraChainCert", { try context.addExtraChainCert(cert) }),
            ("setPasswdCb", { try context.setPasswdCb { _, _, _ in [] } }),
            ("loadVerifyLocations", { try context.loadVerifyLocations(caFile: pki.ca.certPath) }),
            ("setDefaultVerifyPaths", { try context.setDefaultVerifyPaths() }),
            ("setVerify", { try context.setVerify(SSL.VERIFY_PEER) }),
            ("setVerifyDepth", { try context.setVerifyDepth(3) }),
            ("loadClientCA", { try context.loadClientCA(pki.ca.certPath) }),
            ("setClientCAList", { try context.setClientCAList([]) }),
            ("addClientCA", { try context.addClientCA(cert) }),
            ("setMinProtoVersion", { try context.setMinProtoVersion(0) }),
            ("setMaxProtoVersion", { try context.setMaxProtoVersion(0) }),
            ("setCipherList", { try context.setCipherList("DEFAULT") }),
            ("setTLS13Ciphersuites", { try context.setTLS13Ciphersuites("TLS_AES_128_GCM_SHA256") }),
            ("setGroupsList", { try context.setGroupsList("P-256") }),
            ("setTmpECDH", { try context.setTmpECDH("prime256v1") }),
            ("loadTmpDH", { try context.loadTmpDH("/nonexistent") }),
            ("setOptions", { try context.setOptions(SSL.OP_NO_TICKET) }),
            ("clearOptions", { try context.clearOptions(SSL.OP_NO_TICKET) }),
            ("setMode", { try context.setMode(SSL.MODE_RELEASE_BUFFERS) }),
            ("clearMode", { try context.clearMode(SSL.MODE_RELEASE_BUFFERS) }),
            ("setTLSExtUseSRTP", { try context.setTLSExtUseSRTP("SRTP_AES128_CM_SHA1_80") }),
            ("setSessionId", { try context.setSessionId([1]) }),
            ("setSessionCacheMode", { try context.setSessionCacheMode(SSL.SESS_CACHE_OFF) }),
            ("setSessionCacheSize", { try context.setSessionCacheSize(1) }),
            ("setTimeout", { try context.setTimeout(1) }),
            ("setSessionTicketsEnabled", { try context.setSessionTicketsEnabled(false) }),
            ("setNumTickets", { try context.setNumTickets(0) }),
            ("setAppData", { try context.setAppData(1) }),
        ]
        for (name, mutation) in mutations {
            do {
                try mutation()
                Issue.record("\(name) mutated a frozen Context")
            } catch SSLError.contextInUse {
            } catch {
                Issue.record("\(name) threw \(error) instead of contextInUse")
            }
        }
        // Getters keep working.
        #expect(context.getTimeout() == 7200)
        #expect(context.getVerifyMode() == 0)
        #expect(context.getCertStore() != nil)
        try context.checkPrivateKey()
        withExtendedLifetime(connection) {}
    }
}
