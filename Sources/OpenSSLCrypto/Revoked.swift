internal import COpenSSL
internal import COpenSSLShim

/// One revocation entry of a CRL (pyOpenSSL's `crypto.Revoked`). Owns one `X509_REVOKED *`.
///
/// A `Revoked` is always a copy: `CRL.addRevoked` stores a copy of it and `CRL.getRevoked` hands out copies,
/// so mutating one never changes a CRL.
public final class Revoked: @unchecked Sendable {
    /// The owned `X509_REVOKED *`.
    package let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// An empty entry: serial `"00"`, no revocation date, no reason.
    public convenience init() throws {
        guard let revoked = X509_REVOKED_new() else { throw CryptoError.fromQueue() }
        self.init(owning: revoked)
    }

    deinit { X509_REVOKED_free(pointer) }

    /// The reason names `setReason` accepts, in CRLReason code order 0...6 (`removeFromCRL`, 8, is left out
    /// as in pyOpenSSL).
    public static let reasons: [[UInt8]] = [
        "unspecified", "keyCompromise", "CACompromise", "affiliationChanged", "superseded",
        "cessationOfOperation", "certificateHold",
    ].map { Array($0.utf8) }

    /// A copy of `Revoked.reasons` (`Revoked.all_reasons`).
    public func allReasons() -> [[UInt8]] { Revoked.reasons }

    /// Sets the serial number from hexadecimal digits (`Revoked.set_serial`). Parsing stops at the first
    /// non-hex character, as `BN_hex2bn` does (`"31ppp"` is 0x31); no leading hex digit is `.invalidArgument`.
    public func setSerial(hex: some Collection<UInt8>) throws {
        OpenSSLErrorQueue.clear()
        // BN_hex2bn reads a C string, so stop at a NUL just as it would.
        let digits = Array(hex.prefix { $0 != 0 }) + [0]
        var bignum: OpaquePointer?
        let parsed = digits.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { BN_hex2bn(&bignum, $0.baseAddress) }
        }
        guard parsed > 0, let bignum else {
            OpenSSLErrorQueue.clear()
            throw CryptoError.invalidArgument("bad hex string")
        }
        defer { BN_free(bignum) }
        guard let integer = BN_to_ASN1_INTEGER(bignum, nil) else { throw CryptoError.fromQueue() }
        defer { ASN1_INTEGER_free(integer) }
        guard X509_REVOKED_set_serialNumber(pointer, integer) == 1 else { throw CryptoError.fromQueue() }
    }

    /// Sets the serial number from hexadecimal text.
    public func setSerial(hex: String) throws { try setSerial(hex: Array(hex.utf8)) }

    /// The serial number as uppercase hex with an even number of digits (`i2a_ASN1_INTEGER`):
    /// `"10b"` reads back as `"010B"`.
    public func getSerial() throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        let bio = try MemoryBIO()
        guard i2a_ASN1_INTEGER(bio.pointer, X509_REVOKED_get0_serialNumber(pointer)) >= 0 else {
            throw CryptoError.fromQueue()
        }
        return bio.bytes()
    }

    /// Sets the revocation reason (`Revoked.set_reason`), matched against `allReasons()` ignoring case and
    /// spaces (`"  sUpEr SeDeD "` is superseded); `nil` removes the reason. Unknown reasons are
    /// `.invalidArgument`.
    public func setReason(_ reason: (some Collection<UInt8>)?) throws {
        guard let reason else {
            deleteReason()
            return
        }
        let wanted = Revoked.normalised(Array(reason))
        guard let code = Revoked.reasons.firstIndex(where: { Revoked.normalised($0) == wanted }) else {
            throw CryptoError.invalidArgument("unknown reason: \(String(decoding: reason, as: UTF8.self))")
        }
        OpenSSLErrorQueue.clear()
        guard let enumerated = ASN1_ENUMERATED_new() else { throw CryptoError.fromQueue() }
        defer { ASN1_ENUMERATED_free(enumerated) }
        guard ASN1_ENUMERATED_set(enumerated, code) == 1 else { throw CryptoError.fromQueue() }
        deleteReason()
        guard X509_REVOKED_add1_ext_i2d(pointer, NID_crl_reason, UnsafeMutableRawPointer(enumerated), 0, 0) == 1 else {
            throw CryptoError.fromQueue()
        }
    }

    /// Sets the revocation reason from text.
    public func setReason(_ reason: String?) throws { try setReason(reason.map { Array($0.utf8) }) }

    /// The reason in OpenSSL's display form (`"Key Compromise"`, `"Superseded"`, ...) or nil when the entry
    /// has no reason extension; other entry extensions are ignored (`Revoked.get_reason`).
    public func getReason() throws -> [UInt8]? {
        OpenSSLErrorQueue.clear()
        for index in 0..<X509_REVOKED_get_ext_count(pointer) {
            guard let ext = X509_REVOKED_get_ext(pointer, index),
                  OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_crl_reason else { continue }
            let bio = try MemoryBIO()
            if X509V3_EXT_print(bio.pointer, ext, 0, 0) != 1 {
                OpenSSLErrorQueue.clear()
                guard ASN1_STRING_print(bio.pointer, X509_EXTENSION_get_data(ext)) == 1 else {
                    throw CryptoError.fromQueue()
                }
            }
            return bio.bytes()
        }
        return nil
    }

    /// Sets the revocation date from an ASN.1 time string such as `"20160310020145Z"`
    /// (`Revoked.set_rev_date`); an unparseable string is `.invalidArgument`.
    public func setRevDate(_ when: some Collection<UInt8>) throws {
        try RevocationTime.with(when) { (time) throws(CryptoError) in
            guard X509_REVOKED_set_revocationDate(pointer, time) == 1 else { throw CryptoError.fromQueue() }
        }
    }

    /// Sets the revocation date from text.
    public func setRevDate(_ when: String) throws { try setRevDate(Array(when.utf8)) }

    /// The revocation date as a GeneralizedTime string (`"YYYYMMDDhhmmssZ"`), or nil when unset.
    public func getRevDate() -> [UInt8]? {
        RevocationTime.text(X509_REVOKED_get0_revocationDate(pointer))
    }

    private func deleteReason() {
        for index in 0..<X509_REVOKED_get_ext_count(pointer) {
            guard let ext = X509_REVOKED_get_ext(pointer, index),
                  OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_crl_reason else { continue }
            // X509_REVOKED_delete_ext hands ownership of the removed extension back to us.
            X509_EXTENSION_free(X509_REVOKED_delete_ext(pointer, index))
            return
        }
    }

    private static func normalised(_ name: [UInt8]) -> [UInt8] {
        name.filter { $0 != UInt8(ascii: " ") }.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }
    }
}

/// ASN.1 time strings as pyOpenSSL reads and writes them for CRLs and revocation entries.
enum RevocationTime {
    /// Parses `text` with `ASN1_TIME_set_string` (13 characters: UTCTime, 15: GeneralizedTime, kept
    /// verbatim) and hands the temporary time to `body`.
    static func with(
        _ text: some Collection<UInt8>, _ body: (UnsafeMutablePointer<ASN1_TIME>) throws(CryptoError) -> Void
    ) throws(CryptoError) {
        OpenSSLErrorQueue.clear()
        let string = String(decoding: Array(text), as: UTF8.self)
        guard !string.utf8.contains(0) else { throw CryptoError.invalidArgument("time string contains a NUL byte") }
        guard let time = ASN1_TIME_new() else { throw CryptoError.fromQueue() }
        defer { ASN1_TIME_free(time) }
        guard ASN1_TIME_set_string(time, string) == 1 else {
            OpenSSLErrorQueue.clear()
            throw CryptoError.invalidArgument("invalid ASN.1 time string: \(string)")
        }
        try body(time)
    }

    /// The GeneralizedTime text of `time` (UTCTime converted to a 4-digit year), nil when absent or empty.
    static func text(_ time: UnsafePointer<ASN1_TIME>?) -> [UInt8]? {
        guard let time, ASN1_STRING_length(time) > 0 else { return nil }
        if ASN1_STRING_type(time) == V_ASN1_GENERALIZEDTIME {
            return bytes(of: time)
        }
        guard let generalized = ASN1_TIME_to_generalizedtime(time, nil) else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        defer { ASN1_GENERALIZEDTIME_free(generalized) }
        return bytes(of: UnsafePointer(generalized))
    }

    private static func bytes(of string: UnsafePointer<ASN1_STRING>) -> [UInt8] {
        guard let data = ASN1_STRING_get0_data(string) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
    }
}
