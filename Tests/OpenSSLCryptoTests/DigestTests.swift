import Testing
@testable import OpenSSLCrypto

/// `Crypto.digest`: FIPS 180-4 / FIPS 202 known answers, name handling, and refusals.
@Suite struct DigestTests {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

    @Test func sha256KnownAnswers() throws {
        #expect(hex(try Crypto.digest("sha256", Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(try Crypto.digest("sha256", [UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(try Crypto.digest("SHA256", Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // A million 'a's: crosses many blocks, and any Collection is accepted.
        #expect(hex(try Crypto.digest("sha256", repeatElement(UInt8(ascii: "a"), count: 1_000_000)))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func otherDigestsHaveTheirOwnLengths() throws {
        #expect(hex(try Crypto.digest("sha1", Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hex(try Crypto.digest("md5", [UInt8]())) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(hex(try Crypto.digest("sha512", Array("abc".utf8))) == "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
        #expect(hex(try Crypto.digest("sha3-256", [UInt8]())) == "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a")
        #expect(try Crypto.digest("sha384", Array("abc".utf8)).count == 48)
    }

    @Test func unknownDigestIsAnInvalidArgument() {
        for name in ["sha257", "", "sha256\0x"] {
            let error = expectThrowsCleanly(Comment(rawValue: name)) { try Crypto.digest(name, [UInt8]()) }
            #expect(isInvalidArgument(error), "\(name)")
        }
    }
}
