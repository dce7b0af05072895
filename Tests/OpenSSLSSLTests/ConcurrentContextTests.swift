import Foundation
import Synchronization
import Testing
import OpenSSLCrypto
@testable import OpenSSLSSL

/// One frozen Context pair shared by several threads handshaking at once, with every callback kind the proxy
/// uses installed, while another thread rotates the ticket keys.
@Suite struct ConcurrentContextTests {
    @Test(.timeLimit(.minutes(1)))
    func sharedContextsHandshakeConcurrently() throws {
        let pki = try TestPKI.shared()
        let threads = 4, handshakesPerThread = 25
        let verifyCalls = Recorder<Int32>()
        let serverContext = try pki.makeServerContext()
        try serverContext.loadVerifyLocations(caFile: pki.ca.certPath)
        try serverContext.setVerify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT) { _, _, _, depth, ok in
            verifyCalls.append(depth)
            return ok
        }
        try serverContext.setALPNSelectCallback { _, offered in offered.contains(Array("h2".utf8)) ? .select(Array("h2".utf8)) : .noOverlap }
        try serverContext.setTLSExtServernameCallback { connection in
            guard connection.getServername() == Array("localhost".utf8) else { throw CallbackMarker("unknown host") }
        }
        try serverContext.setSessionId(Array("concurrent".utf8))
        try serverContext.setTicketKeys(TicketKeys.generate())
        let clientContext = try pki.makeClientContext(identity: \.client)
        try clientContext.setALPNProtos(["h2", "http/1.1"])
        // Freeze both before sharing them.
        _ = try Connection(context: serverContext)
        _ = try Connection(context: clientContext)

        let failures = Recorder<String>()
        let successes = Recorder<Bool>()
        let rotations = Recorder<Int>()
        let done = Atomic(false)
        let started = Date()
        let rotator = Thread {
            var count = 0
            while !done.load(ordering: .acquiring) {
                do {
                    let current = try #require(serverContext.getTicketKeys())
                    // Keep enough old keys that a slow CI host's tickets are still decryptable when they come back.
                    try serverContext.setTicketKeys(current.rotated(adding: TicketKeys.Key.generate(), keeping: 64))
                    count += 1
                } catch {
                    failures.append("rotation: \(error)")
                }
                usleep(5000)
            }
            rotations.append(count)
        }
        rotator.start()
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            var session: Session?
            for _ in 0..<handshakesPerThread {
                do {
                    let client = try Connection(context: clientContext)
                    try client.setTLSExtHostName("localhost")
                    if let session { try client.setSession(session) }
                    let server = try Connection(context: serverContext)
                    try handshake(client: client, server: server)
                    guard client.getALPNProtoNegotiated() == Array("h2".utf8), server.getPeerCertificate() != nil else {
                        failures.append("wrong negotiation")
                        continue
                    }
                    try moveCiphertext(from: server, to: client)
                    _ = try? client.recv(1)
                    try closeCleanly(client: client, server: server)
                    session = client.getSession()
                    successes.append(client.sessionReused())
                    // A frozen Context stays frozen under load.
                    do {
                        try serverContext.setTimeout(1)
                        failures.append("mutation of a frozen Context succeeded")
                    } catch SSLError.contextInUse {
                    }
                } catch {
                    failures.append("\(error)")
                }
            }
        }
        done.store(true, ordering: .releasing)
        while rotations.values.isEmpty { usleep(1000) }
        let elapsed = Date().timeIntervalSince(started)
        #expect(failures.values.isEmpty, "\(failures.values.prefix(5))")
        #expect(successes.values.count == threads * handshakesPerThread)
        // Most handshakes after the first per thread resume, despite the rotations (old keys still decrypt).
        #expect(successes.values.filter { $0 }.count >= threads * (handshakesPerThread - 1) / 2)
        #expect(!verifyCalls.values.isEmpty)
        #expect(serverContext.getTimeout() == 7200)
        #expect(elapsed < 60)
        print("concurrent: \(successes.values.count) handshakes (\(successes.values.filter { $0 }.count) resumed) on \(threads) threads in \(String(format: "%.2f", elapsed)) s, \(rotations.values.first ?? 0) key rotations")
    }
}
