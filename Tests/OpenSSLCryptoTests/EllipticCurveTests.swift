import Foundation
import Testing
@testable import OpenSSLCrypto

/// pyOpenSSL's TestEllipticCurve, TestEllipticCurveEquality and TestEllipticCurveHash cases.
@Suite struct EllipticCurveTests {
    @Test func curvesIncludeTheCommonOnes() throws {
        let curves = Crypto.ellipticCurves()
        #expect(curves.count > 10)
        let names = Set(curves.map(\.name))
        #expect(names.isSuperset(of: ["prime256v1", "secp384r1", "secp521r1"]))
        // The list is what `openssl ecparam -list_curves` prints.
        let cli = try KeysCLI.run(["ecparam", "-list_curves"])
        // Lines are "  name: comment" or "  name : comment"; wrapped comments continue on tab-indented lines.
        let cliNames = Set(cli.text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  "), let colon = line.firstIndex(of: ":") else { return nil }
            return line[..<colon].trimmingCharacters(in: .whitespaces)
        })
        #expect(names == cliNames)
    }

    @Test func lookupByName() throws {
        for curve in Crypto.ellipticCurves() {
            #expect(try Crypto.ellipticCurve(named: curve.name) == curve)
        }
        let p256 = try Crypto.ellipticCurve(named: "prime256v1")
        #expect(p256.name == "prime256v1")
        #expect(p256.nid == 415)
        #expect(p256.description == "<Curve 'prime256v1'>")
    }

    @Test func unknownCurveIsAnArgumentError() {
        expectKeyAreaError({ _ = try Crypto.ellipticCurve(named: "this curve was just invented") }, KeyErrorKind.invalidArgument)
    }

    @Test func equalityAndHashing() throws {
        let a = try Crypto.ellipticCurve(named: "secp384r1")
        let same = try Crypto.ellipticCurve(named: "secp384r1")
        let other = try Crypto.ellipticCurve(named: "secp521r1")
        #expect(a == a)
        #expect(a == same)
        #expect(a != other)
        #expect(Set([a]).contains(same))
        #expect(!Set([other]).contains(a))
    }
}
