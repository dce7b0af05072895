import Foundation
import Testing
@testable import OpenSSLCrypto
@testable import OpenSSLRand

/// pyOpenSSL's test_rand.py (26.4.0) plus the 0.15.1 cases of the removed functions.
@Suite struct RandTests {
    @Test func statusIsSeeded() {
        #expect(Rand.status() == 1)
    }

    @Test func addAndSeedKeepTheGeneratorWorking() throws {
        Rand.add(Array("hamburger".utf8), entropy: 3)
        Rand.seed(Array("milk shake".utf8))
        Rand.add([UInt8](), entropy: 0)
        #expect(Rand.status() == 1)
        #expect(try Rand.bytes(16).count == 16)
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func bytes() throws {
        let a = try Rand.bytes(50)
        let b = try Rand.bytes(50)
        #expect(a.count == 50)
        #expect(b.count == 50)
        #expect(a != b)
        #expect(try Rand.bytes(0) == [])
        // 4096 bytes are not all one value (a stuck generator would be caught here).
        #expect(Set(try Rand.bytes(4096)).count > 200)
    }

    @Test func negativeCountIsAnArgumentError() {
        #expect {
            _ = try Rand.bytes(-1)
        } throws: { error in
            guard case RandError.invalidArgument(let message) = error else { return false }
            return message == "num_bytes must not be negative"
        }
    }

    @Test func cleanupIsANoOp() throws {
        Rand.cleanup()
        #expect(Rand.status() == 1)
        #expect(try Rand.bytes(8).count == 8)
    }

    @Test func writeAndLoadFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-rand-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("seed").path

        #expect(try Rand.writeFile(path) == 1024)
        let written = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(written.count == 1024)
        #expect(Rand.loadFile(path) == 1024)
        #expect(Rand.loadFile(path, maxBytes: 4) == 4)
        // A second write produces different bytes.
        #expect(try Rand.writeFile(path) == 1024)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) != written)
    }

    @Test func missingFileLoadsAsMinusOneWithAnEmptyQueue() {
        #expect(Rand.loadFile("/nonexistent/portcullis/seed") == -1)
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func unwritableFileIsAnOpenSSLError() {
        #expect {
            _ = try Rand.writeFile("/nonexistent/portcullis/seed")
        } throws: { error in
            guard case RandError.openSSL(let entries) = error else { return false }
            return !entries.isEmpty
        }
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func egdIsUnsupported() {
        for bytes in [255, 1024] {
            #expect {
                _ = try Rand.egd(path: "/nonexistent/egd-socket", bytes: bytes)
            } throws: { error in
                guard case RandError.unsupported(let message) = error else { return false }
                return message.contains("OPENSSL_NO_EGD")
            }
        }
    }

    @Test func screenIsUnsupported() {
        #expect {
            try Rand.screen()
        } throws: { error in
            guard case RandError.unsupported(let message) = error else { return false }
            return message.contains("Windows-only")
        }
    }
}
