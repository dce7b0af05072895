import Foundation
import Testing
@testable import OpenSSLCrypto

/// pyOpenSSL's TestRevoked cases.
@Suite struct RevokedTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func emptyEntry() throws {
        let revoked = try Revoked()
        #expect(try revoked.getSerial() == Self.bytes("00"))
        #expect(revoked.getRevDate() == nil)
        #expect(try revoked.getReason() == nil)
    }

    @Test func serialHexSemantics() throws {
        let revoked = try Revoked()
        try revoked.setSerial(hex: "10b")
        #expect(try revoked.getSerial() == Self.bytes("010B"))
        // Parsing stops at the first non-hex character, as BN_hex2bn does.
        try revoked.setSerial(hex: "31ppp")
        #expect(try revoked.getSerial() == Self.bytes("31"))
        expectKeyAreaError({ try revoked.setSerial(hex: "pqrst") }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ try revoked.setSerial(hex: "") }, KeyErrorKind.invalidArgument)
        #expect(try revoked.getSerial() == Self.bytes("31"), "a rejected serial leaves the old one")
        try revoked.setSerial(hex: "0123456789abcdef0123456789ABCDEF")
        #expect(try revoked.getSerial() == Self.bytes("0123456789ABCDEF0123456789ABCDEF"))
    }

    @Test func revocationDate() throws {
        let revoked = try Revoked()
        try revoked.setRevDate("20160310020145Z")
        #expect(revoked.getRevDate() == Self.bytes("20160310020145Z"))
        // UTCTime input reads back as GeneralizedTime.
        try revoked.setRevDate("160310020145Z")
        #expect(revoked.getRevDate() == Self.bytes("20160310020145Z"))
        expectKeyAreaError({ try revoked.setRevDate("foo bar") }, KeyErrorKind.invalidArgument)
    }

    @Test func allReasonsAreTheSevenCRLReasons() throws {
        let names = try Revoked().allReasons().map { String(decoding: $0, as: UTF8.self) }
        #expect(names == ["unspecified", "keyCompromise", "CACompromise", "affiliationChanged", "superseded",
                          "cessationOfOperation", "certificateHold"])
    }

    @Test func everyReasonRoundTrips() throws {
        let revoked = try Revoked()
        let display = ["Unspecified", "Key Compromise", "CA Compromise", "Affiliation Changed", "Superseded",
                       "Cessation Of Operation", "Certificate Hold"]
        for (reason, expected) in zip(revoked.allReasons(), display) {
            var input = reason
            for _ in 0..<2 {
                try revoked.setReason(input)
                let got = try #require(try revoked.getReason())
                #expect(String(decoding: got, as: UTF8.self) == expected)
                input = got  // the display form is accepted back
            }
        }
        try revoked.setReason(nil as String?)
        #expect(try revoked.getReason() == nil)
    }

    @Test func reasonMatchingIgnoresCaseAndSpaces() throws {
        let revoked = try Revoked()
        try revoked.setReason("  sUpEr SeDeD ")
        #expect(try revoked.getReason() == Self.bytes("Superseded"))
        try revoked.setReason("KEYCOMPROMISE")
        #expect(try revoked.getReason() == Self.bytes("Key Compromise"))
    }

    @Test func unknownReasonIsAnArgumentError() throws {
        let revoked = try Revoked()
        try revoked.setReason("superseded")
        expectKeyAreaError({ try revoked.setReason("blue") }, KeyErrorKind.invalidArgument)
        expectKeyAreaError({ try revoked.setReason("removeFromCRL") }, KeyErrorKind.invalidArgument)
        #expect(try revoked.getReason() == Self.bytes("Superseded"), "a rejected reason leaves the old one")
    }

    @Test func reasonIgnoresOtherEntryExtensions() throws {
        // An entry whose invalidityDate extension comes before its reason, encoded by the CLI from an
        // ASN.1 description (the signature is a dummy: only parsing matters here).
        let dir = try KeysCLI.makeDirectory()
        defer { KeysCLI.removeDirectory(dir) }
        let config = """
            asn1 = SEQUENCE:crl
            [crl]
            tbs = SEQUENCE:tbs
            alg = SEQUENCE:alg
            sig = FORMAT:HEX,BITSTRING:00
            [alg]
            oid = OID:sha256WithRSAEncryption
            null = NULL
            [tbs]
            version = INTEGER:1
            alg = SEQUENCE:alg
            issuer = SEQUENCE:issuer
            this = GENTIME:20150101000000Z
            entries = SEQUENCE:entries
            [issuer]
            rdn = SET:rdn
            [rdn]
            cn = SEQUENCE:cn
            [cn]
            oid = OID:commonName
            value = UTF8:test
            [entries]
            e1 = SEQUENCE:entry
            [entry]
            serial = INTEGER:1
            date = GENTIME:20150101000000Z
            exts = SEQUENCE:exts
            [exts]
            inv = SEQUENCE:invalidity
            reason = SEQUENCE:reason
            [invalidity]
            oid = OID:invalidityDate
            value = OCTWRAP,GENTIME:20150101000000Z
            [reason]
            oid = OID:CRLReason
            value = OCTWRAP,ENUMERATED:0

            """
        try Array(config.utf8).write(to: dir, name: "crl.cnf")
        let made = try KeysCLI.run(["asn1parse", "-genconf", "crl.cnf", "-out", "crl.der", "-noout"], in: dir)
        #expect(made.status == 0, "\(made.stderr)")
        let crl = try Crypto.loadCRL(.asn1, try [UInt8](contentsOf: dir, name: "crl.der"))
        let entries = try #require(try crl.getRevoked())
        #expect(entries.count == 1)
        #expect(try entries[0].getReason() == Self.bytes("Unspecified"))
        try entries[0].setReason(nil as String?)
        #expect(try entries[0].getReason() == nil)
        // Only the reason went away; the CRL itself is unchanged (getRevoked hands out copies).
        let holder = try CRL()
        try holder.addRevoked(entries[0])
        let text = String(decoding: try Crypto.dumpCRL(.text, holder), as: UTF8.self)
        #expect(text.contains("Invalidity Date"))
        #expect(!text.contains("Reason Code"))
        #expect(try crl.getRevoked()?[0].getReason() == Self.bytes("Unspecified"))
    }
}
