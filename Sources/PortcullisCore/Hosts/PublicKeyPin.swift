import FoundationEssentials
public import OpenSSLCrypto

/// `allow_spki_sha256` pins: SHA-256 over a certificate's DER SubjectPublicKeyInfo, written as standard
/// base64 with padding (44 characters), the form of HPKP's `pin-sha256` and of
/// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`.
///
/// The pin names the key, not the certificate: it survives a renewal that keeps the key pair, and changes
/// when the key does.
public enum PublicKeyPin {
    /// The 32-byte pin of `certificate`. The SubjectPublicKeyInfo DER comes from OpenSSL
    /// (`Crypto.dumpPublicKey(.asn1, _)`, `i2d_PUBKEY`), exactly what the `openssl pkey -outform DER` step writes.
    public static func sha256(of certificate: X509) throws -> [UInt8] {
        try Crypto.digest("sha256", try Crypto.dumpPublicKey(.asn1, try certificate.getPubkey()))
    }

    /// The pin of `certificate` as configuration text.
    public static func text(of certificate: X509) throws -> String {
        encode(try sha256(of: certificate))
    }

    /// Standard base64 with padding.
    public static func encode(_ digest: [UInt8]) -> String {
        Data(digest).base64EncodedString()
    }

    /// The 32 bytes of a pin written as standard base64 with padding; nil for anything else (URL-safe
    /// alphabet, missing padding, whitespace, or another length), so a mistyped pin is a configuration error
    /// rather than an entry that can never match.
    public static func decode(_ text: String) -> [UInt8]? {
        guard text.utf8.count == 44, text.hasSuffix("="),
              text.utf8.allSatisfy({ $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "=")
                  || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0)
                  || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }),
              let data = Data(base64Encoded: text), data.count == 32
        else { return nil }
        return Array(data)
    }
}
