import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

/// Sessions must not cross configurations: a session made where no client certificate was required must
/// not resume where one is.
@Suite struct ContextResumptionTests {
    private func contexts(_ pki: TestPKI, version: Int32, keys: TicketKeys) throws -> (open: Context, openTwin: Context, mutual: Context) {
        let open = try pki.makeServerContext(maxVersion: version)
        try open.setSessionId(Array("public".utf8))
        try open.setTicketKeys(keys)
        let openTwin = try pki.makeServerContext(maxVersion: version)
        try openTwin.setSessionId(Array("public".utf8))
        try openTwin.setTicketKeys(keys)
        let mutual = try pki.makeServerContext(maxVersion: version)
        try mutual.setSessionId(Array("mtls".utf8))
        try mutual.setTicketKeys(keys)
        try mutual.loadVerifyLocations(caFile: pki.ca.certPath)
        try mutual.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
        return (open, openTwin, mutual)
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func resumptionIsRefusedAcrossSessionIdContexts(version: Int32) throws {
        let pki = try TestPKI.shared()
        let (open, openTwin, mutual) = try contexts(pki, version: version, keys: TicketKeys.generate())
        let clientContext = try pki.makeClientContext(identity: \.client)
        let session = try establishSession(client: clientContext, server: open)
        // Same session-id context and keys: resumes.
        #expect(try resume(session, client: clientContext, server: openTwin).server.sessionReused())
        // Different session-id context (and verify settings): full handshake, client certificate checked.
        let (client, server) = try resume(session, client: clientContext, server: mutual)
        #expect(!client.sessionReused() && !server.sessionReused())
        #expect(server.getPeerCertificate() != nil)
        #expect(server.getVerifyResult() == 0)
    }

    @Test func mutualSessionDoesNotLeakToTheOpenContext() throws {
        let pki = try TestPKI.shared()
        let (open, _, mutual) = try contexts(pki, version: SSL.TLS1_3_VERSION, keys: TicketKeys.generate())
        let clientContext = try pki.makeClientContext(identity: \.client)
        let session = try establishSession(client: clientContext, server: mutual)
        #expect(try !resume(session, client: clientContext, server: open).server.sessionReused())
        #expect(try resume(session, client: clientContext, server: mutual).server.sessionReused())
    }
}
