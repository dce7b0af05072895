import Foundation
import Glibc
import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

/// Catalogue rows (docs/pyopenssl-coverage.md, `## OpenSSL.SSL`) whose tests the coverage audit found missing
/// or too weak: the deprecated aliases, client CA lists as the client receives them, the cert store as a trust
/// store, the default verify paths, DHE with `loadTmpDH`, DTLS-SRTP and DTLS timers, and the error type itself.

/// The deprecated names, called through a protocol so that the calls themselves do not warn.
private protocol LegacyNames {
    func ssleayVersions() -> [[UInt8]]
    func ssleaySelectors() -> [Int32]
    func sslv2And3MethodNumbers() -> [Int32]
    func stateString(of connection: Connection) -> [UInt8]
}

private struct DeprecatedLegacyNames: LegacyNames {
    @available(*, deprecated)
    func ssleayVersions() -> [[UInt8]] { ssleaySelectors().map { SSL.ssleayVersion($0) } }
    @available(*, deprecated)
    func ssleaySelectors() -> [Int32] {
        [SSL.SSLEAY_VERSION, SSL.SSLEAY_CFLAGS, SSL.SSLEAY_PLATFORM, SSL.SSLEAY_DIR, SSL.SSLEAY_BUILT_ON]
    }
    @available(*, deprecated)
    func sslv2And3MethodNumbers() -> [Int32] { [SSL.SSLv2_METHOD, SSL.SSLv3_METHOD] }
    @available(*, deprecated)
    func stateString(of connection: Connection) -> [UInt8] { connection.stateString() }
}

@Suite struct SSLCatalogueCoverageTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI.shared() }
    private let legacy: any LegacyNames = DeprecatedLegacyNames()

    // MARK: Deprecated aliases

    @Test func ssleayAliasesMatchTheOpenSSLNames() {
        #expect(legacy.ssleaySelectors() == [SSL.OPENSSL_VERSION, SSL.OPENSSL_CFLAGS, SSL.OPENSSL_PLATFORM, SSL.OPENSSL_DIR,
                                             SSL.OPENSSL_BUILT_ON])
        #expect(legacy.ssleayVersions() == legacy.ssleaySelectors().map { SSL.openSSLVersion($0) })
        #expect(String(decoding: legacy.ssleayVersions()[0], as: UTF8.self).hasPrefix("OpenSSL 3.0"))
    }

    @Test func sslv2AndSSLv3MethodNumbersAreRefused() throws {
        let numbers = legacy.sslv2And3MethodNumbers()
        #expect(numbers == [1, 2])
        for number in numbers {
            #expect {
                _ = try Context(methodRawValue: Int(number))
            } throws: { error in
                guard case SSLError.unsupported(let message) = error else { return false }
                return message.contains("SSLv\(number + 1)") && message.contains("OpenSSL 3.0")
            }
        }
    }

    @Test func stateStringIsTheOldNameOfGetStateString() throws {
        let client = try Connection(context: pki.makeClientContext())
        #expect(legacy.stateString(of: client) == Array("before SSL initialization".utf8))
        let server = try Connection(context: pki.makeServerContext())
        try handshake(client: client, server: server)
        #expect(legacy.stateString(of: client) == client.getStateString())
        #expect(legacy.stateString(of: client) == Array("SSL negotiation finished successfully".utf8))
    }

    @Test func historicOptionsAreZero() {
        // pyOpenSSL keeps these names; OpenSSL 3.0 itself defines every one of them as 0.
        let historic = [SSL.OP_SINGLE_DH_USE, SSL.OP_SINGLE_ECDH_USE, SSL.OP_EPHEMERAL_RSA, SSL.OP_MICROSOFT_SESS_ID_BUG,
                        SSL.OP_NETSCAPE_CHALLENGE_BUG, SSL.OP_NETSCAPE_REUSE_CIPHER_CHANGE_BUG,
                        SSL.OP_SSLREF2_REUSE_CERT_TYPE_BUG, SSL.OP_MICROSOFT_BIG_SSLV3_BUFFER, SSL.OP_MSIE_SSLV2_RSA_PADDING,
                        SSL.OP_SSLEAY_080_CLIENT_DH_BUG, SSL.OP_TLS_D5_BUG, SSL.OP_TLS_BLOCK_PADDING_BUG, SSL.OP_PKCS1_CHECK_1,
                        SSL.OP_PKCS1_CHECK_2, SSL.OP_NETSCAPE_CA_DN_BUG, SSL.OP_NETSCAPE_DEMO_CIPHER_CHANGE_BUG]
        #expect(historic.count == 16)
        #expect(historic.allSatisfy { $0 == 0 })
    }

    // MARK: Client CA lists, as the client receives them (pyOpenSSL's TestMemoryBIO CA-list cases)

    /// Runs a handshake against a server that requests a certificate, after `configure` set its CA list.
    /// Returns what the client received and what the server's Connection reports.
    func caNamesSeen(_ configure: (Context) throws -> Void) throws -> (client: [X509Name], server: [X509Name]) {
        let serverContext = try pki.makeServerContext()
        try serverContext.loadVerifyLocations(caFile: pki.ca.certPath)
        try serverContext.setVerify(SSL.VERIFY_PEER)
        try configure(serverContext)
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext(identity: \.client))
        try handshake(client: client, server: server)
        return (try client.getClientCAList(), try server.getClientCAList())
    }

    var caSubject: X509Name { get throws { try Crypto.loadCertificate(.pem, pki.ca.certPEM).getSubject() } }
    var ca2Subject: X509Name { get throws { try Crypto.loadCertificate(.pem, pki.ca2.certPEM).getSubject() } }

    @Test func emptyOneAndMultipleCAListsReachTheClient() throws {
        let (ca, ca2) = (try caSubject, try ca2Subject)
        let none = try caNamesSeen { try $0.setClientCAList([]) }
        #expect(none.client.isEmpty && none.server.isEmpty)
        let one = try caNamesSeen { try $0.setClientCAList([ca]) }
        #expect(one.client == [ca] && one.server == [ca])
        let two = try caNamesSeen { try $0.setClientCAList([ca, ca2]) }
        #expect(two.client == [ca, ca2] && two.server == [ca, ca2])
        #expect(two.client.map(\.commonName) == ["Portcullis Test CA", "Portcullis Other CA"])
    }

    @Test func lastSetWinsAndTheListIsCopiedAtCallTime() throws {
        let (ca, ca2) = (try caSubject, try ca2Subject)
        let reset = try caNamesSeen { try $0.setClientCAList([ca]); try $0.setClientCAList([ca2]) }
        #expect(reset.client == [ca2])
        let original = try X509Name(copying: ca)
        let mutated = try X509Name(copying: ca)
        let seen = try caNamesSeen { context in
            try context.setClientCAList([mutated])
            try mutated.set(.commonName, "Changed After The Call")
        }
        #expect(seen.client == [original])
        #expect(mutated != original)
    }

    @Test func addClientCAAppendsAndSetReplaces() throws {
        let (ca, ca2) = (try caSubject, try ca2Subject)
        let caCertificate = try Crypto.loadCertificate(.pem, pki.ca.certPEM)
        let ca2Certificate = try Crypto.loadCertificate(.pem, pki.ca2.certPEM)
        let addOne = try caNamesSeen { try $0.addClientCA(caCertificate) }
        #expect(addOne.client == [ca])
        let addTwo = try caNamesSeen { try $0.addClientCA(caCertificate); try $0.addClientCA(ca2Certificate) }
        #expect(addTwo.client == [ca, ca2])
        let setThenAdd = try caNamesSeen { try $0.setClientCAList([ca]); try $0.addClientCA(ca2Certificate) }
        #expect(setThenAdd.client == [ca, ca2])
        let addThenSet = try caNamesSeen { try $0.addClientCA(caCertificate); try $0.setClientCAList([ca2]) }
        #expect(addThenSet.client == [ca2])
        let loaded = try caNamesSeen { try $0.loadClientCA(self.pki.ca.certPath) }
        #expect(loaded.client == [ca] && loaded.server == [ca])
    }

    // MARK: Trust

    @Test func certStoreIsTheContextsTrustStore() throws {
        let clientContext = try Context(method: .tlsClient)
        try clientContext.setVerify(SSL.VERIFY_PEER)
        let store = try #require(clientContext.getCertStore())
        try store.addCert(Crypto.loadCertificate(.pem, pki.ca.certPEM))
        let client = try Connection(context: clientContext)
        try handshake(client: client, server: Connection(context: pki.makeServerContext()))
        #expect(client.getVerifyResult() == 0)
        #expect(client.getVerifiedChain()?.count == 2)
        // Without the anchor the same setup fails.
        let bare = try Context(method: .tlsClient)
        try bare.setVerify(SSL.VERIFY_PEER)
        let bareClient = try Connection(context: bare)
        let error = try #require(handshakeError(client: bareClient, server: Connection(context: pki.makeServerContext())))
        #expect(openSSLEntries(error)?.contains { $0.reason.contains("certificate verify failed") } == true, "\(error)")
    }

    @Test func defaultVerifyPathsTrustTheSystemCertificates() throws {
        // A system root from the hashed directory OpenSSL's default paths point at (/usr/lib/ssl/certs ->
        // /etc/ssl/certs on Debian), verified through the Context's own store before and after.
        let directory = "/etc/ssl/certs"
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".0") }.sorted()
        var root: X509?
        for name in names {
            guard let pem = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8),
                  let certificate = try? Crypto.loadCertificate(.pem, pem),
                  (try? certificate.hasExpired()) == false,
                  certificate.getSubject() == certificate.getIssuer() else { continue }
            root = certificate
            break
        }
        let systemRoot = try #require(root, "no unexpired self-signed root in \(directory)")
        let context = try Context(method: .tls)
        #expect(throws: X509StoreContextError.self) {
            try X509StoreContext(store: #require(context.getCertStore()), certificate: systemRoot).verifyCertificate()
        }
        try context.setDefaultVerifyPaths()
        try X509StoreContext(store: #require(context.getCertStore()), certificate: systemRoot).verifyCertificate()
    }

    @Test func chainFileWithANonASCIIName() throws {
        let directory = try contextTestDirectory()
        let path = try writeFile(directory, "cha\u{EE}ne-\u{2603}.pem", String(contentsOfFile: pki.chainServerChainPath, encoding: .utf8))
        let serverContext = try Context(method: .tls)
        try serverContext.useCertificateChainFile(path)
        try serverContext.usePrivateKeyFile(pki.chainServer.keyPath)
        try serverContext.checkPrivateKey()
        let client = try Connection(context: pki.makeClientContext())
        try handshake(client: client, server: Connection(context: serverContext))
        #expect(client.getPeerCertChain()?.count == 2)
        #expect(client.getVerifiedChain()?.count == 3)
    }

    // MARK: DHE parameters

    @Test func loadTmpDHEnablesDHECipherSuites() throws {
        // DHE needs an RSA (or DSA) certificate; the test PKI is ECDSA, so make one here.
        let directory = try contextTestDirectory()
        let key = directory + "/rsa.key", certificate = directory + "/rsa.pem", parameters = directory + "/dh-\u{E9}.pem"
        try TestPKI.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate,
                             "-subj", "/CN=localhost", "-days", "2"])
        try TestPKI.openssl(["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", parameters])
        let suite = "DHE-RSA-AES128-GCM-SHA256"
        func serverContext(withParameters: Bool) throws -> Context {
            let context = try Context(method: .tls)
            try context.useCertificateFile(certificate)
            try context.usePrivateKeyFile(key)
            try context.setMaxProtoVersion(SSL.TLS1_2_VERSION)
            try context.setCipherList(suite)
            if withParameters { try context.loadTmpDH(parameters) }
            return context
        }
        let clientContext = try Context(method: .tlsClient)
        try clientContext.setCipherList(suite)
        // OpenSSL 3.0 has no automatic DH parameters by default: without them the suite cannot be chosen.
        let error = try #require(handshakeError(client: Connection(context: clientContext),
                                                server: Connection(context: serverContext(withParameters: false))))
        #expect(openSSLEntries(error)?.contains { $0.reason.contains("no shared cipher") } == true, "\(error)")
        let client = try Connection(context: clientContext)
        try handshake(client: client, server: Connection(context: serverContext(withParameters: true)))
        #expect(client.getCipherName() == suite)
    }

    // MARK: DTLS (pyOpenSSL's test_it_works_with_srtp and test_timeout)

    func dtlsContexts(srtp: (server: String, client: String)?) throws -> (client: Context, server: Context) {
        let serverContext = try pki.makeServerContext(method: .dtls)
        let clientContext = try pki.makeClientContext(method: .dtls)
        for context in [serverContext, clientContext] { try context.setOptions(SSL.OP_NO_QUERY_MTU) }
        if let srtp {
            try serverContext.setTLSExtUseSRTP(srtp.server)
            try clientContext.setTLSExtUseSRTP(srtp.client)
        }
        return (clientContext, serverContext)
    }

    @Test func dtlsSRTPProfileIsNegotiated() throws {
        let contexts = try dtlsContexts(srtp: (server: "SRTP_AES128_CM_SHA1_80:SRTP_AES128_CM_SHA1_32", client: "SRTP_AES128_CM_SHA1_80"))
        let client = try Connection(context: contexts.client)
        let server = try Connection(context: contexts.server)
        try client.setCiphertextMTU(1400)
        try server.setCiphertextMTU(1400)
        try handshake(client: client, server: server)
        #expect(client.getProtocolVersionName() == "DTLSv1.2")
        #expect(client.getSelectedSRTPProfile() == Array("SRTP_AES128_CM_SHA1_80".utf8))
        #expect(server.getSelectedSRTPProfile() == Array("SRTP_AES128_CM_SHA1_80".utf8))
    }

    @Test func dtlsRetransmissionTimer() throws {
        let client = try Connection(context: dtlsContexts(srtp: nil).client)
        try client.setCiphertextMTU(1400)
        #expect(client.dtlsv1GetTimeout() == nil)
        client.setConnectState()
        #expect(throws: SSLError.wantRead) { try client.doHandshake() }
        let hello = try client.bioRead(65536)
        #expect(hello.first == 0x16)
        let timeout = try #require(client.dtlsv1GetTimeout())
        #expect(timeout > 0 && timeout <= 1.0)
        #expect(try client.dtlsv1HandleTimeout() == false, "not due yet")
        usleep(UInt32((timeout + 0.1) * 1_000_000))
        #expect(try client.dtlsv1HandleTimeout() == true)
        // The ClientHello went out again.
        let again = try client.bioRead(65536)
        #expect(again.first == 0x16 && again.count == hello.count)
        #expect(try #require(client.dtlsv1GetTimeout()) > timeout, "the timer doubles after a retransmission")
    }

    // MARK: Real peers for OCSP stapling and oversized writes

    @Test func sClientReadsTheStapledOCSPResponse() throws {
        let serverContext = try pki.makeServerContext()
        let asked = Recorder<Bool>()
        try serverContext.setOCSPServerCallback { _, _ in asked.append(true); return OCSPTests.response }
        let listenerFD = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { closeSocket(listenerFD) }
        let listener = try Connection(context: serverContext, socket: listenerFD)
        try listener.bind(.ipv4(host: "127.0.0.1", port: 0))
        try listener.listen(1)
        try listener.setblocking(false)
        let port = try #require(try listener.getsockname().port)
        let child = try OpenSSLChild(["s_client", "-connect", "127.0.0.1:\(port)", "-status", "-CAfile", pki.ca.certPath,
                                      "-verify_return_error", "-servername", "localhost", "-ign_eof"])
        var output = ""
        defer { if output.isEmpty { child.stop(timeout: 0) } }
        let deadline = Date().addingTimeInterval(10)
        var accepted: Connection?
        while accepted == nil, Date() < deadline {
            do { accepted = try listener.accept().0 } catch SSLError.sysCall(let code, _) where code == EAGAIN { usleep(1000) }
        }
        let server = try #require(accepted)
        defer { try? server.close() }
        while Date() < deadline {
            do { try server.doHandshake(); break } catch SSLError.wantRead { usleep(500) } catch SSLError.wantWrite { usleep(500) }
        }
        #expect(asked.values == [true])
        try server.sendAll(Array("stapled\n".utf8))
        while Date() < deadline {
            do { _ = try server.shutdown(); break } catch SSLError.wantRead { break } catch SSLError.wantWrite { usleep(500) }
        }
        output = child.stop()
        // The 5-byte OCSPResponse (status unauthorized, no body) as the real client decoded it.
        #expect(output.contains("OCSP Response Status: unauthorized (0x6)"), "\(output)")
        #expect(output.contains("stapled"))
        #expect(output.contains("Verify return code: 0 (ok)"))
    }

    @Test func bioWriteRefusesMoreThanBIOWriteCanTake() throws {
        // pyOpenSSL's test_buf_too_large, for the one call that still has a C int length: BIO_write. (send uses
        // SSL_write_ex, whose size_t length has no such limit.) The check runs before any byte is touched.
        let connection = try Connection(context: pki.makeClientContext())
        var byte: UInt8 = 0
        withUnsafeMutableBytes(of: &byte) { small in
            let huge = UnsafeRawBufferPointer(start: small.baseAddress, count: Int(Int32.max) + 1)
            #expect {
                _ = try connection.bioWrite(huge)
            } throws: { error in
                guard case SSLError.invalidArgument(let message) = error else { return false }
                return message.contains("\(Int32.max)")
            }
        }
    }

    // MARK: Lifetime (the leak check's regression test)

    @Test func connectionsContextsAndSessionsAreFreedWithEveryCallbackInstalled() throws {
        // Callbacks that use the objects they are passed (not captured ones) must not keep anything alive: no
        // Context -> Connection reference and no cycle through a callback box or an ex_data slot.
        weak var weakServer: Connection?, weakClient: Connection?, weakServerContext: Context?
        weak var weakClientContext: Context?, weakSession: Session?
        do {
            let serverContext = try pki.makeServerContext()
            try serverContext.loadVerifyLocations(caFile: pki.ca.certPath)
            try serverContext.setVerify(SSL.VERIFY_PEER) { _, _, _, _, ok in ok }
            try serverContext.setTLSExtServernameCallback { connection in _ = connection.getServername() }
            try serverContext.setALPNSelectCallback { _, offered in .select(offered[0]) }
            try serverContext.setOCSPServerCallback({ _, _ in OCSPTests.response }, data: "data")
            try serverContext.setInfoCallback { _, _, _ in }
            try serverContext.setKeylogCallback { _, _ in }
            try serverContext.setClientHelloCallback { _ in }
            try serverContext.setTicketKeys(TicketKeys.generate())
            let clientContext = try pki.makeClientContext(identity: \.client)
            try clientContext.setALPNProtos(["h2"])
            try clientContext.setOCSPClientCallback { _, _, _ in true }
            let server = try Connection(context: serverContext)
            server.setInfoCallback { _, _, _ in }
            let client = try Connection(context: clientContext)
            client.setVerify(SSL.VERIFY_PEER) { _, _, _, _, ok in ok }
            try client.requestOCSP()
            try client.setTLSExtHostName("localhost")
            try handshake(client: client, server: server)
            #expect(client.getALPNProtoNegotiated() == Array("h2".utf8))
            let session = try #require(client.getSession())
            (weakServer, weakClient, weakServerContext, weakClientContext, weakSession) =
                (server, client, serverContext, clientContext, session)
        }
        #expect(weakServer == nil && weakClient == nil && weakSession == nil)
        #expect(weakServerContext == nil && weakClientContext == nil)
    }

    // MARK: The error type

    @Test func errorShape() throws {
        let context = try Context(method: .tls)
        do {
            try context.setCipherList("imaginary-cipher")
            Issue.record("accepted")
        } catch let error as SSLError {
            let entries = error.entries
            #expect(entries.contains { $0 == OpenSSLErrorEntry(library: "SSL routines", function: "", reason: "no cipher match",
                                                               code: $0.code, data: $0.data) })
            #expect(error.description.hasPrefix("OpenSSL error: (SSL routines, , no cipher match)"))
            #expect(SSLError.incompleteSend(sent: 3, cause: error).entries == entries)
        }
        OpenSSLErrorQueue.clear()
        guard case .openSSL(let blank) = SSLError.fromQueue("someCall") else { Issue.record("not .openSSL"); return }
        #expect(blank.map(\.function) == ["someCall"] && blank.map(\.reason) == ["failed without an OpenSSL error"])
        #expect(SSLError.unexpectedEOF == .sysCall(errno: -1, message: "Unexpected EOF"))
        let descriptions: [(SSLError, String)] = [
            (.wantRead, "want read"), (.wantWrite, "want write"), (.wantX509Lookup, "want X509 lookup"),
            (.zeroReturn, "the peer closed the TLS session (close_notify)"),
            (.sysCall(errno: 32, message: "EPIPE"), "system call error 32: EPIPE"),
            (.invalidArgument("why"), "invalid argument: why"), (.unsupported("no"), "unsupported: no"),
            (.contextInUse, "Context has already been used to create a Connection, it cannot be mutated again"),
            (.incompleteSend(sent: 3, cause: .wantWrite), "sendAll stopped after 3 bytes: want write"),
        ]
        for (error, text) in descriptions {
            #expect(error.description == text)
            #expect(error.entries.isEmpty)
        }
    }
}
