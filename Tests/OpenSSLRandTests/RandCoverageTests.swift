import COpenSSL
import Testing
@testable import OpenSSLCrypto
@testable import OpenSSLRand

/// Gaps found by the coverage audit of the rand catalogue (docs/pyopenssl-coverage.md): the `rand.Error`
/// shape, and the error-queue contract checked against a deliberately dirtied queue.
@Suite struct RandCoverageTests {
    static let staleMarker = "PORTCULLIS-STALE-MARKER"

    /// Leaves an unrelated entry on this thread's error queue, as a careless earlier call would.
    static func dirtyTheQueue() throws {
        OpenSSLErrorQueue.clear()
        #expect(EVP_MD_fetch(nil, staleMarker, nil) == nil)
        try #require(!OpenSSLErrorQueue.isEmpty, "could not leave a stale error on the queue")
    }

    @Test func everyThrowingFunctionLeavesAnEmptyQueueAndNoStaleEntry() throws {
        let calls: [(String, () throws(RandError) -> Void)] = [
            ("bytes(-1)", { () throws(RandError) in _ = try Rand.bytes(-1) }),
            ("bytes(too many)", { () throws(RandError) in _ = try Rand.bytes(Int(Int32.max) + 1) }),
            ("writeFile", { () throws(RandError) in _ = try Rand.writeFile("/nonexistent/portcullis/seed") }),
            ("egd", { () throws(RandError) in _ = try Rand.egd(path: "/nonexistent/egd") }),
            ("screen", { () throws(RandError) in try Rand.screen() }),
        ]
        for (name, call) in calls {
            try Self.dirtyTheQueue()
            do {
                try call()
                Issue.record("\(name): expected an error")
            } catch {
                #expect(!error.entries.contains { $0.data.contains(Self.staleMarker) }, "\(name): \(error)")
                #expect(OpenSSLErrorQueue.isEmpty, "\(name) left the queue dirty after \(error)")
            }
        }
    }

    @Test func successfulCallsDoNotDependOnAStaleQueue() throws {
        try Self.dirtyTheQueue()
        #expect(try Rand.bytes(32).count == 32)
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func errorShape() {
        let unsupported = RandError.unsupported("why")
        #expect(unsupported.entries.isEmpty)
        #expect(unsupported.description == "unsupported: why")
        #expect(RandError.invalidArgument("n").description == "invalid argument: n")
        OpenSSLErrorQueue.clear()
        guard case .openSSL(let entries) = RandError.fromQueue("someCall") else {
            Issue.record("fromQueue must give .openSSL")
            return
        }
        #expect(entries.map(\.function) == ["someCall"], "an empty queue still names the failing call")
        let wrapped = RandError.openSSL([OpenSSLErrorEntry(library: "lib", function: "", reason: "why")])
        #expect(wrapped.description == "OpenSSL error: (lib, , why)")
    }
}
