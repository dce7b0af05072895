import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

@Suite struct MutualTLSTests {
    private func requiringServer(_ pki: TestPKI) throws -> Context {
        let context = try pki.makeServerContext()
        try context.loadVerifyLocations(caFile: pki.ca.certPath)
        try context.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
        return context
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func clientWithoutCertificateIsRejected(version: Int32) throws {
        let pki = try TestPKI.shared()
        let serverContext = try requiringServer(pki)
        try serverContext.setMaxProtoVersion(version)
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext())
        let error = try #require(handshakeError(client: client, server: server))
        #expect(openSSLEntries(error)?.contains { $0.reason.contains("peer did not return a certificate") } == true, "\(error)")
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func clientFromAnotherCAIsRejected(version: Int32) throws {
        let pki = try TestPKI.shared()
        let serverContext = try requiringServer(pki)
        try serverContext.setMaxProtoVersion(version)
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext(identity: \.client2))
        let error = try #require(handshakeError(client: client, server: server))
        #expect(openSSLEntries(error)?.contains { $0.reason.contains("certificate verify failed") } == true, "\(error)")
        #expect(server.getVerifyResult() == 20 || server.getVerifyResult() == 19, "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY or SELF_SIGNED_CERT_IN_CHAIN")
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func rightClientIsAccepted(version: Int32) throws {
        let pki = try TestPKI.shared()
        let serverContext = try requiringServer(pki)
        try serverContext.setMaxProtoVersion(version)
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext(identity: \.client))
        try handshake(client: client, server: server)
        #expect(try der(server.getPeerCertificate()) == der(Crypto.loadCertificate(.pem, pki.client.certPEM)))
        #expect(server.getVerifyResult() == 0)
        #expect(server.getVerifiedChain()?.count == 2)
    }

    @Test func clientSeesTheServersCAList() throws {
        let pki = try TestPKI.shared()
        let serverContext = try requiringServer(pki)
        try serverContext.addClientCA(Crypto.loadCertificate(.pem, pki.ca.certPEM))
        try serverContext.addClientCA(Crypto.loadCertificate(.pem, pki.ca2.certPEM))
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext(identity: \.client))
        #expect(try client.getClientCAList().isEmpty)
        try handshake(client: client, server: server)
        let received = try client.getClientCAList()
        #expect(received.count == 2)
        // The same names, in order, as the server's list (compared through their DER via a Context round trip).
        #expect(try server.getClientCAList().count == 2)
    }

    @Test func loadClientCAIsSentToo() throws {
        let pki = try TestPKI.shared()
        let serverContext = try requiringServer(pki)
        try serverContext.loadClientCA(pki.ca.certPath)
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext(identity: \.client))
        try handshake(client: client, server: server)
        #expect(try client.getClientCAList().count == 1)
    }
}
