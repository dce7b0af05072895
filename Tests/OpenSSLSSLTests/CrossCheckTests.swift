import Foundation
import Glibc
import Testing
@testable import OpenSSLCrypto
@testable import OpenSSLSSL

/// A child `openssl` process with captured stdout/stderr, always stopped by `stop()`.
final class OpenSSLChild {
    let process = Process()
    let input = Pipe()
    let output = Pipe()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    func send(_ text: String) {
        input.fileHandleForWriting.write(Data(text.utf8))
    }

    /// Waits up to `timeout` seconds for the child to exit by itself, then kills it. Returns its output.
    @discardableResult
    func stop(timeout: Double = 5) -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        try? input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self)
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02X", $0) }.joined()
}

/// Real peers: `openssl s_client` against a server Connection, and a client Connection against `openssl s_server`.
@Suite(.serialized) struct CrossCheckTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI.shared() }

    /// Accepts one connection on a non-blocking listener Connection, within `timeout` seconds.
    func acceptOne(_ listener: Connection, timeout: Double = 10) throws -> Connection {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            do {
                return try listener.accept().0
            } catch SSLError.sysCall(let code, _) where code == EAGAIN {
                usleep(1000)
            }
        }
        throw TestSupportError("no connection within \(timeout) s")
    }

    /// Runs `body` until it stops throwing wantRead/wantWrite, within `timeout` seconds.
    func retrying<T>(timeout: Double = 10, _ body: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            do { return try body() } catch SSLError.wantRead { usleep(500) } catch SSLError.wantWrite { usleep(500) }
        }
        throw TestSupportError("operation did not complete within \(timeout) s")
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func sClientAgainstOurServer(version: Int32) throws {
        let serverContext = try pki.makeServerContext(maxVersion: version)
        try serverContext.loadVerifyLocations(caFile: pki.ca.certPath)
        try serverContext.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
        try serverContext.setALPNSelectCallback { _, offered in
            offered.contains(Array("h2".utf8)) ? .select(Array("h2".utf8)) : .noOverlap
        }
        let listenerFD = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { closeSocket(listenerFD) }
        let listener = try Connection(context: serverContext, socket: listenerFD)
        try listener.setsockopt(level: SOL_SOCKET, option: SO_REUSEADDR, value: 1)
        try listener.bind(.ipv4(host: "127.0.0.1", port: 0))
        try listener.listen(4)
        try listener.setblocking(false)
        let port = try #require(try listener.getsockname().port)

        let child = try OpenSSLChild([
            "s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", pki.ca.certPath, "-verify_return_error",
            "-servername", "localhost", "-cert", pki.client.certPath, "-key", pki.client.keyPath,
            "-alpn", "h2,http/1.1", "-keymatexport", "EXPERIMENTAL-portcullis", "-keymatexportlen", "20",
            "-ign_eof",
        ])
        var childOutput = ""
        defer { if childOutput.isEmpty { childOutput = child.stop(timeout: 0) } }

        let server = try acceptOne(listener)
        defer { try? server.close() }
        try retrying { try server.doHandshake() }
        child.send("ping\n")
        let request = try retrying { try server.recv(100) }
        #expect(request == Array("ping\n".utf8))
        try server.sendAll(Array("pong\n".utf8))
        let ours = try server.exportKeyingMaterial(label: "EXPERIMENTAL-portcullis", length: 20)
        let peer = try #require(server.getPeerCertificate())
        #expect(try Crypto.dumpCertificate(.asn1, peer) == Crypto.dumpCertificate(.asn1, Crypto.loadCertificate(.pem, pki.client.certPEM)))
        #expect(server.getServername() == Array("localhost".utf8))
        #expect(server.getALPNProtoNegotiated() == Array("h2".utf8))
        #expect(server.getProtocolVersion() == version)
        #expect(server.getVerifyResult() == 0)
        _ = try retrying { try server.shutdown() }

        childOutput = child.stop()
        #expect(childOutput.contains("Verify return code: 0 (ok)"), "\(childOutput)")
        #expect(childOutput.contains("pong"))
        #expect(childOutput.contains("ALPN protocol: h2"))
        #expect(childOutput.contains("Keying material: \(hex(ours))"), "ours \(hex(ours))")
        #expect(childOutput.contains(server.getCipherName() ?? "?"))
    }

    @Test(arguments: [SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION])
    func ourClientAgainstSServer(version: Int32) throws {
        let port = try freeLoopbackPort()
        let child = try OpenSSLChild([
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", pki.server.certPath, "-key", pki.server.keyPath,
            "-CAfile", pki.ca.certPath, "-Verify", "2", "-naccept", "1", "-rev",
            version == SSL.TLS1_2_VERSION ? "-tls1_2" : "-tls1_3",
        ])
        var childOutput = ""
        defer { if childOutput.isEmpty { childOutput = child.stop(timeout: 0) } }

        // Wait for the child to listen.
        let clientContext = try pki.makeClientContext(identity: \.client)
        var client: Connection?
        var fd: Int32 = -1
        let deadline = Date().addingTimeInterval(10)
        while client == nil, Date() < deadline {
            fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let candidate = try Connection(context: clientContext, socket: fd)
            if try candidate.connectEx(.ipv4(host: "127.0.0.1", port: port)) == 0 {
                client = candidate
            } else {
                closeSocket(fd)
                usleep(20_000)
            }
        }
        let connection = try #require(client)
        defer { try? connection.close() }
        try connection.setblocking(false)
        try connection.setTLSExtHostName("localhost")
        try retrying { try connection.doHandshake() }
        #expect(connection.getVerifyResult() == 0)
        #expect(connection.getProtocolVersion() == version)
        try connection.sendAll(Array("hello\n".utf8))
        var reply: [UInt8] = []
        let readDeadline = Date().addingTimeInterval(10)
        while !reply.contains(0x0A), Date() < readDeadline {
            do { reply += try connection.recv(100) } catch SSLError.wantRead { usleep(500) }
        }
        #expect(String(decoding: reply, as: UTF8.self) == "olleh\n")
        _ = try? connection.shutdown()

        childOutput = child.stop()
        #expect(childOutput.contains("CONNECTION ESTABLISHED"), "\(childOutput)")
        #expect(childOutput.contains("Protocol version: \(version == SSL.TLS1_2_VERSION ? "TLSv1.2" : "TLSv1.3")"))
    }

    @Test func sServerWithoutCloseNotifyIsUnexpectedEOF() throws {
        // `s_server -rev` answers one line; killing it closes the TCP connection without close_notify.
        let port = try freeLoopbackPort()
        let child = try OpenSSLChild([
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", pki.server.certPath, "-key", pki.server.keyPath,
            "-naccept", "1", "-rev",
        ])
        var stopped = false
        defer { if !stopped { child.stop(timeout: 0) } }
        let clientContext = try pki.makeClientContext()
        var connection: Connection?
        let deadline = Date().addingTimeInterval(10)
        while connection == nil, Date() < deadline {
            let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let candidate = try Connection(context: clientContext, socket: fd)
            if try candidate.connectEx(.ipv4(host: "127.0.0.1", port: port)) == 0 {
                connection = candidate
            } else {
                closeSocket(fd)
                usleep(20_000)
            }
        }
        let client = try #require(connection)
        defer { try? client.close() }
        try client.setblocking(false)
        try retrying { try client.doHandshake() }
        // One echoed line proves the server has read everything we sent: killing it then closes the TCP
        // connection with FIN, not RST (unread data would make the kernel reset it).
        try client.sendAll(Array("ab\n".utf8))
        let echo = try retrying { try client.recv(10) }
        #expect(echo == Array("ba\n".utf8))
        kill(child.process.processIdentifier, SIGKILL)
        child.stop()
        stopped = true
        let result: Result<[UInt8], any Error> = Result { try retrying { try client.recv(10) } }
        switch result {
        case .success(let bytes): Issue.record("read \(bytes)")
        case .failure(let error): #expect(isUnexpectedEOF(error), "\(error)")
        }
    }
}
