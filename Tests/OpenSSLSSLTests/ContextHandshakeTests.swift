import Foundation
import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

/// Context settings observed through real handshakes.
@Suite struct ContextHandshakeTests {
    @Test func extraChainCertificatesAreSentAndVerified() throws {
        let pki = try TestPKI.shared()
        let serverContext = try Context(method: .tls)
        try serverContext.useCertificateFile(pki.chainServer.certPath)
        try serverContext.usePrivateKeyFile(pki.chainServer.keyPath)
        try serverContext.addExtraChainCert(Crypto.loadCertificate(.pem, pki.intermediate.certPEM))
        let client = try Connection(context: pki.makeClientContext())
        try handshake(client: client, server: Connection(context: serverContext))
        #expect(client.getPeerCertChain()?.count == 2)
        #expect(client.getVerifiedChain()?.count == 3)
        #expect(client.getVerifyResult() == 0)
    }

    @Test func chainFileIsSentAndVerified() throws {
        let pki = try TestPKI.shared()
        let serverContext = try Context(method: .tls)
        try serverContext.useCertificateChainFile(pki.chainServerChainPath)
        try serverContext.usePrivateKeyFile(pki.chainServer.keyPath)
        let client = try Connection(context: pki.makeClientContext())
        try handshake(client: client, server: Connection(context: serverContext))
        #expect(client.getVerifiedChain()?.count == 3)
    }

    @Test func missingIntermediateFailsVerification() throws {
        let pki = try TestPKI.shared()
        let serverContext = try Context(method: .tls)
        try serverContext.useCertificateFile(pki.chainServer.certPath)
        try serverContext.usePrivateKeyFile(pki.chainServer.keyPath)
        let client = try Connection(context: pki.makeClientContext())
        let error = try #require(handshakeError(client: client, server: Connection(context: serverContext)))
        #expect(openSSLEntries(error)?.contains { $0.reason.contains("certificate verify failed") } == true, "\(error)")
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func verifyLocationsFromNonASCIIFileAndHashedDirectory() throws {
        let pki = try TestPKI.shared()
        let directory = try contextTestDirectory()
        let caFile = try writeFile(directory, "autorit\u{E9}-\u{2603}.pem", pki.ca.certPEM)
        let byFile = try Context(method: .tlsClient)
        try byFile.loadVerifyLocations(caFile: caFile)
        try byFile.setVerify(SSL.VERIFY_PEER)
        let client = try Connection(context: byFile)
        try handshake(client: client, server: Connection(context: pki.makeServerContext()))
        #expect(client.getVerifyResult() == 0)

        let hashed = directory + "/capath-\u{E9}"
        try FileManager.default.createDirectory(atPath: hashed, withIntermediateDirectories: true)
        _ = try writeFile(hashed, "ca.pem", pki.ca.certPEM)
        try TestPKI.openssl(["rehash", hashed])
        let byDirectory = try Context(method: .tlsClient)
        try byDirectory.loadVerifyLocations(caFile: nil, caPath: hashed)
        try byDirectory.setVerify(SSL.VERIFY_PEER)
        try handshake(client: Connection(context: byDirectory), server: Connection(context: pki.makeServerContext()))
    }

    @Test func noSharedCipherFails() throws {
        let pki = try TestPKI.shared()
        let serverContext = try pki.makeServerContext(maxVersion: SSL.TLS1_2_VERSION)
        try serverContext.setCipherList("ECDHE-ECDSA-AES128-GCM-SHA256")
        let clientContext = try pki.makeClientContext(maxVersion: SSL.TLS1_2_VERSION)
        try clientContext.setCipherList("ECDHE-ECDSA-AES256-GCM-SHA384")
        let error = try #require(handshakeError(client: Connection(context: clientContext), server: Connection(context: serverContext)))
        #expect(openSSLEntries(error)?.contains { $0.reason.contains("no shared cipher") } == true, "\(error)")
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func noSharedTLS13SuiteFails() throws {
        let pki = try TestPKI.shared()
        let serverContext = try pki.makeServerContext()
        try serverContext.setMinProtoVersion(SSL.TLS1_3_VERSION)
        try serverContext.setTLS13Ciphersuites("TLS_AES_128_GCM_SHA256")
        let clientContext = try pki.makeClientContext()
        try clientContext.setTLS13Ciphersuites("TLS_AES_256_GCM_SHA384")
        let error = try #require(handshakeError(client: Connection(context: clientContext), server: Connection(context: serverContext)))
        #expect(openSSLEntries(error) != nil, "\(error)")
    }

    @Test func configuredCipherIsNegotiated() throws {
        let pki = try TestPKI.shared()
        let serverContext = try pki.makeServerContext(maxVersion: SSL.TLS1_2_VERSION)
        try serverContext.setCipherList("ECDHE-ECDSA-CHACHA20-POLY1305")
        let client = try Connection(context: pki.makeClientContext())
        try handshake(client: client, server: Connection(context: serverContext))
        #expect(client.getCipherName() == "ECDHE-ECDSA-CHACHA20-POLY1305")
        #expect(client.getProtocolVersionName() == "TLSv1.2")
    }

    @Test func protocolVersionLimitsAreEnforced() throws {
        let pki = try TestPKI.shared()
        let serverContext = try pki.makeServerContext()
        try serverContext.setMinProtoVersion(SSL.TLS1_3_VERSION)
        let clientContext = try pki.makeClientContext(maxVersion: SSL.TLS1_2_VERSION)
        let error = try #require(handshakeError(client: Connection(context: clientContext), server: Connection(context: serverContext)))
        #expect(openSSLEntries(error)?.contains { $0.reason.contains("unsupported protocol") } == true, "\(error)")
        // A TLSv1_2_METHOD server pins TLS 1.2.
        let pinned = try pki.makeServerContext(method: .tlsv1_2)
        let client = try Connection(context: pki.makeClientContext())
        try handshake(client: client, server: Connection(context: pinned))
        #expect(client.getProtocolVersion() == SSL.TLS1_2_VERSION)
    }

    @Test func tls10IsRefusedByDefault() throws {
        let pki = try TestPKI.shared()
        // Context(method: .tls) starts at TLS 1.2: a TLS 1.0-only client cannot connect.
        let clientContext = try Context(method: .tlsv1)
        try clientContext.setCipherList("DEFAULT:@SECLEVEL=0")
        let client = try Connection(context: clientContext)
        let server = try Connection(context: pki.makeServerContext())
        #expect(handshakeError(client: client, server: server) != nil)
    }

    @Test func tmpECDHSelectsTheGroup() throws {
        let pki = try TestPKI.shared()
        let serverContext = try pki.makeServerContext()
        try serverContext.setTmpECDH("secp384r1")
        let client = try Connection(context: pki.makeClientContext())
        try handshake(client: client, server: Connection(context: serverContext))
        #expect(client.getGroupName() == "secp384r1")
    }
}
