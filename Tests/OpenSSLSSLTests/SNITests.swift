import Foundation
import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

/// A test error thrown by callbacks; rethrown unchanged by the handshake.
struct CallbackMarker: Error, Equatable {
    let tag: String
    init(_ tag: String = "marker") { self.tag = tag }
}

/// Thread-safe recorder for what callbacks saw.
final class Recorder<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Value] = []
    func append(_ value: Value) { lock.withLock { storage.append(value) } }
    var values: [Value] { lock.withLock { storage } }
}

/// Runs the memory-BIO handshake and returns the error it failed with (records an issue if it succeeded).
func handshakeError(client: Connection, server: Connection, sourceLocation: SourceLocation = #_sourceLocation) -> (any Error)? {
    do {
        try handshake(client: client, server: server)
        Issue.record("the handshake unexpectedly succeeded", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// DER of a certificate, for identity comparisons.
func der(_ certificate: X509?) throws -> [UInt8] {
    try Crypto.dumpCertificate(.asn1, try #require(certificate))
}

@Suite struct SNITests {
    @Test func callbackWithoutServerName() throws {
        let pki = try TestPKI.shared()
        let seen = Recorder<[UInt8]?>()
        let serverContext = try pki.makeServerContext()
        try serverContext.setTLSExtServernameCallback { connection in seen.append(connection.getServername()) }
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext())
        try handshake(client: client, server: server)
        #expect(seen.values.count == 1)
        #expect(seen.values.first! == nil)
    }

    @Test func callbackSeesNameAndSwitchesContext() throws {
        let pki = try TestPKI.shared()
        let defaultContext = try pki.makeServerContext()
        let otherContext = try Context(method: .tls)
        try otherContext.useCertificateChainFile(pki.chainServerChainPath)
        try otherContext.usePrivateKeyFile(pki.chainServer.keyPath)
        let seen = Recorder<[UInt8]?>()
        try defaultContext.setTLSExtServernameCallback { connection in
            seen.append(connection.getServername())
            if connection.getServername() == Array("other.example".utf8) {
                try connection.setContext(otherContext)
            }
        }
        for (name, expected) in [("other.example", pki.chainServer.certPEM), ("default.example", pki.server.certPEM)] {
            let server = try Connection(context: defaultContext)
            let client = try Connection(context: pki.makeClientContext())
            try client.setTLSExtHostName(name)
            try handshake(client: client, server: server)
            #expect(server.getServername() == Array(name.utf8))
            #expect(try der(client.getPeerCertificate()) == der(Crypto.loadCertificate(.pem, expected)))
            #expect(client.getVerifyResult() == 0)
            #expect(server.getContext() === (name == "other.example" ? otherContext : defaultContext))
        }
        #expect(seen.values.map { $0.map { String(decoding: $0, as: UTF8.self) } } == ["other.example", "default.example"])
        #expect(otherContext.isFrozen)
    }

    @Test func callbackErrorAbortsWithUnrecognizedName() throws {
        let pki = try TestPKI.shared()
        let serverContext = try pki.makeServerContext()
        try serverContext.setTLSExtServernameCallback { _ in throw CallbackMarker("sni") }
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext())
        try client.setTLSExtHostName("example.org")
        let error = handshakeError(client: client, server: server)
        #expect(error as? CallbackMarker == CallbackMarker("sni"))
        #expect(OpenSSLErrorQueue.isEmpty)
        // The client saw the fatal unrecognized_name alert.
        try moveCiphertext(from: server, to: client)
        do {
            try client.doHandshake()
            Issue.record("client handshake succeeded")
        } catch {
            let entries = openSSLEntries(error) ?? []
            #expect(entries.contains { $0.reason.contains("unrecognized name") }, "\(error)")
        }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    /// Builds the two server Contexts of a host whose second name requires client certificates.
    private func mutualTLSHost(_ pki: TestPKI) throws -> (open: Context, secure: Context) {
        let open = try pki.makeServerContext()
        let secure = try pki.makeServerContext()
        try secure.loadVerifyLocations(caFile: pki.ca.certPath)
        try secure.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
        return (open, secure)
    }

    @Test func switchingContextDoesNotCopyTheVerifyMode() throws {
        let pki = try TestPKI.shared()
        let (open, secure) = try mutualTLSHost(pki)
        try open.setTLSExtServernameCallback { connection in try connection.setContext(secure) }
        let server = try Connection(context: open)
        let client = try Connection(context: pki.makeClientContext())
        try client.setTLSExtHostName("secure.example")
        // OpenSSL kept the first Context's VERIFY_NONE: a client without a certificate gets in.
        try handshake(client: client, server: server)
        #expect(server.getContext() === secure)
        #expect(server.getVerifyMode() == SSL.VERIFY_NONE)
        #expect(server.getPeerCertificate() == nil)
    }

    @Test func reapplyingTheVerifyModeAfterTheSwitchEnforcesIt() throws {
        let pki = try TestPKI.shared()
        let (open, secure) = try mutualTLSHost(pki)
        try open.setTLSExtServernameCallback { connection in
            try connection.setContext(secure)
            connection.setVerify(secure.getVerifyMode())
        }
        // Without a certificate: refused.
        let server = try Connection(context: open)
        let client = try Connection(context: pki.makeClientContext())
        try client.setTLSExtHostName("secure.example")
        let error = handshakeError(client: client, server: server)
        #expect(openSSLEntries(error!)?.contains { $0.reason.contains("peer did not return a certificate") } == true, "\(String(describing: error))")
        // With the right certificate: accepted, and the server saw it.
        let server2 = try Connection(context: open)
        let client2 = try Connection(context: pki.makeClientContext(identity: \.client))
        try client2.setTLSExtHostName("secure.example")
        try handshake(client: client2, server: server2)
        #expect(try der(server2.getPeerCertificate()) == der(Crypto.loadCertificate(.pem, pki.client.certPEM)))
        #expect(server2.getVerifyMode() == SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
    }
}
