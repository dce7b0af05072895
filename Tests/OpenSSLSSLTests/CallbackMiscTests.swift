import Foundation
import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

@Suite struct CallbackMiscTests {
    @Test func infoCallbackGetsConnections() throws {
        let pki = try TestPKI.shared()
        let calls = Recorder<(ObjectIdentifier, Int32, Int32)>()
        let serverContext = try pki.makeServerContext()
        try serverContext.setInfoCallback { connection, whereBits, ret in calls.append((ObjectIdentifier(connection), whereBits, ret)) }
        let server = try Connection(context: serverContext)
        try handshake(client: Connection(context: pki.makeClientContext()), server: server)
        let seen = calls.values
        #expect(!seen.isEmpty)
        #expect(seen.allSatisfy { $0.0 == ObjectIdentifier(server) })
        #expect(seen.contains { $0.1 & SSL.SSL_CB_HANDSHAKE_START != 0 })
        #expect(seen.contains { $0.1 & SSL.SSL_CB_HANDSHAKE_DONE != 0 })
        #expect(seen.contains { $0.1 & SSL.SSL_ST_ACCEPT != 0 })
    }

    @Test func infoCallbackErrorIsRethrown() throws {
        let pki = try TestPKI.shared()
        let serverContext = try pki.makeServerContext()
        try serverContext.setInfoCallback { _, _, _ in throw CallbackMarker("info") }
        let client = try Connection(context: pki.makeClientContext())
        let server = try Connection(context: serverContext)
        #expect(handshakeError(client: client, server: server) as? CallbackMarker == CallbackMarker("info"))
    }

    @Test(arguments: [(SSL.TLS1_2_VERSION, "CLIENT_RANDOM"), (SSL.TLS1_3_VERSION, "CLIENT_HANDSHAKE_TRAFFIC_SECRET")])
    func keylogLines(version: Int32, label: String) throws {
        let pki = try TestPKI.shared()
        let lines = Recorder<String>()
        let serverContext = try pki.makeServerContext(maxVersion: version)
        try serverContext.setKeylogCallback { _, line in lines.append(String(decoding: line, as: UTF8.self)) }
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext())
        try handshake(client: client, server: server)
        let clientRandom = try #require(server.clientRandom()).map { String(format: "%02x", $0) }.joined()
        #expect(lines.values.contains { $0.hasPrefix(label + " " + clientRandom + " ") }, "\(lines.values)")
        #expect(lines.values.allSatisfy { !$0.hasSuffix("\n") })
    }

    struct Hello: Sendable {
        let inCallback: Bool
        let serverName: [UInt8]?
        let ciphers: [UInt16]?
        let signatureAlgorithms: [UInt16]?
        let versions: [UInt16]?
        let alpn: [[UInt8]]?
        let extensions: [Int32]?
        let legacyVersion: Int32?
    }

    @Test func clientHelloAccessors() throws {
        let pki = try TestPKI.shared()
        let hellos = Recorder<Hello>()
        let serverContext = try pki.makeServerContext()
        try serverContext.setClientHelloCallback { connection in
            hellos.append(Hello(inCallback: connection.isInClientHello, serverName: connection.clientHelloServerName(),
                                ciphers: connection.clientHelloCiphers(),
                                signatureAlgorithms: connection.clientHelloSignatureAlgorithms(),
                                versions: connection.clientHelloSupportedVersions(), alpn: connection.clientHelloALPNProtocols(),
                                extensions: connection.clientHelloExtensionTypes(), legacyVersion: connection.clientHelloLegacyVersion()))
        }
        let clientContext = try pki.makeClientContext()
        try clientContext.setALPNProtos(["h2", "http/1.1"])
        try clientContext.setTLS13Ciphersuites("TLS_AES_256_GCM_SHA384")
        try clientContext.setCipherList("ECDHE-ECDSA-AES128-GCM-SHA256")
        let client = try Connection(context: clientContext)
        try client.setTLSExtHostName("hello.example")
        let server = try Connection(context: serverContext)
        try handshake(client: client, server: server)
        let hello = try #require(hellos.values.first)
        #expect(hellos.values.count == 1)
        #expect(hello.inCallback)
        #expect(hello.serverName == Array("hello.example".utf8))
        // TLS_AES_256_GCM_SHA384, ECDHE-ECDSA-AES128-GCM-SHA256, then the renegotiation SCSV.
        #expect(hello.ciphers == [0x1302, 0xC02B, 0x00FF])
        #expect(hello.signatureAlgorithms?.contains(0x0403) == true, "ecdsa_secp256r1_sha256")
        #expect(hello.versions == [0x0304, 0x0303])
        #expect(hello.alpn == [Array("h2".utf8), Array("http/1.1".utf8)])
        #expect(hello.extensions?.contains(0) == true && hello.extensions?.contains(16) == true)
        #expect(hello.legacyVersion == 0x0303)
        // Outside the callback there is nothing to read.
        let outside = (server.isInClientHello, server.clientHelloCiphers(), server.clientHelloServerName())
        #expect(!outside.0 && outside.1 == nil && outside.2 == nil)
    }

    @Test func clientHelloErrorAbortsTheHandshake() throws {
        let pki = try TestPKI.shared()
        let serverContext = try pki.makeServerContext()
        try serverContext.setClientHelloCallback { _ in throw CallbackMarker("hello") }
        let server = try Connection(context: serverContext)
        let client = try Connection(context: pki.makeClientContext())
        #expect(handshakeError(client: client, server: server) as? CallbackMarker == CallbackMarker("hello"))
        #expect(OpenSSLErrorQueue.isEmpty)
        try moveCiphertext(from: server, to: client)
        let clientError = try #require(handshakeError(client: client, server: server))
        #expect(openSSLEntries(clientError)?.contains { $0.reason.contains("handshake failure") } == true, "\(clientError)")
    }

    @Test func clientHelloCallbackCanSwitchContext() throws {
        let pki = try TestPKI.shared()
        let other = try Context(method: .tls)
        try other.useCertificateChainFile(pki.chainServerChainPath)
        try other.usePrivateKeyFile(pki.chainServer.keyPath)
        let serverContext = try pki.makeServerContext()
        try serverContext.setClientHelloCallback { connection in
            if connection.clientHelloServerName() == Array("other.example".utf8) { try connection.setContext(other) }
        }
        let client = try Connection(context: pki.makeClientContext())
        try client.setTLSExtHostName("other.example")
        try handshake(client: client, server: Connection(context: serverContext))
        #expect(try der(client.getPeerCertificate()) == der(Crypto.loadCertificate(.pem, pki.chainServer.certPEM)))
    }
}
