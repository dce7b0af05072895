internal import COpenSSL
internal import COpenSSLShim

/// A DER-encoded OCSP response (RFC 6960 `OCSPResponse`), as a responder returns it and as a TLS server
/// staples it. Not part of pyOpenSSL: an extension for servers that staple responses fetched by someone else
/// (`openssl ocsp -respout`, a cron job).
///
/// Owns one `OCSP_RESPONSE *` and, when the response is successful, the `OCSP_BASICRESP *` decoded from it.
/// Immutable after `init`, so it may be shared between threads.
///
/// ```swift
/// let response = try OCSPResponse(der: bytes)
/// guard response.responseStatus == .successful,
///       let single = try response.singleResponse(for: leaf, issuer: issuer) else { ... }
/// try response.verify(store: storeTrustingIssuer, untrusted: [issuer])
/// ```
public final class OCSPResponse: @unchecked Sendable {
    /// The owned `OCSP_RESPONSE *`.
    package let pointer: OpaquePointer
    /// The owned `OCSP_BASICRESP *`; nil unless the response is successful and carries a basic response.
    private let basic: OpaquePointer?
    /// The bytes this response was decoded from: what a server staples.
    public let derBytes: [UInt8]

    /// Decodes a DER `OCSPResponse` (`d2i_OCSP_RESPONSE`). A successful response must carry a basic response
    /// (`id-pkix-ocsp-basic`), the only kind RFC 6960 defines.
    ///
    /// - Throws: `.openSSL` for bytes that are not a DER OCSP response, or a successful one without a basic
    ///   response; `.invalidArgument` for bytes followed by trailing data.
    public init(der: some Collection<UInt8>) throws {
        OpenSSLErrorQueue.clear()
        let bytes = Array(der)
        guard !bytes.isEmpty else { throw CryptoError.invalidArgument("an OCSP response cannot be empty") }
        var consumed = 0
        let response: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            guard let start = buffer.baseAddress else { return nil }
            var cursor: UnsafePointer<UInt8>? = start
            let decoded = d2i_OCSP_RESPONSE(nil, &cursor, buffer.count)
            consumed = cursor.map { $0 - start } ?? 0
            return decoded
        }
        guard let response else { throw CryptoError.fromQueue() }
        guard consumed == bytes.count else {
            OCSP_RESPONSE_free(response)
            throw CryptoError.invalidArgument("\(bytes.count - consumed) bytes after the DER OCSP response")
        }
        var basic: OpaquePointer?
        if OCSP_response_status(response) == OCSP_RESPONSE_STATUS_SUCCESSFUL {
            basic = OCSP_response_get1_basic(response)
            if basic == nil {
                OCSP_RESPONSE_free(response)
                throw CryptoError.fromQueue()
            }
        }
        self.pointer = response
        self.basic = basic
        self.derBytes = bytes
    }

    deinit {
        if let basic { OCSP_BASICRESP_free(basic) }
        OCSP_RESPONSE_free(pointer)
    }

    /// The responder's overall answer (`OCSP_response_status`). Only `.successful` responses say anything
    /// about certificates.
    public var responseStatus: OCSPResponseStatus {
        OCSPResponseStatus(rawValue: OCSP_response_status(pointer))
    }

    /// What the response says about `certificate`, issued by `issuer` (`OCSP_cert_to_id`, then
    /// `OCSP_resp_find_status`); nil when the response has no entry for it. The certificate ID is built with
    /// each hash algorithm the response's entries use (SHA-1 from `openssl ocsp`, SHA-256 from some
    /// responders), so either matches.
    ///
    /// This does not check the signature (`verify(store:untrusted:flags:)`) nor the times
    /// (`checkValidity(...)`).
    ///
    /// - Throws: `.invalidArgument` when the response is not successful; `.openSSL` when a certificate ID
    ///   cannot be built.
    public func singleResponse(for certificate: X509, issuer: X509) throws -> OCSPSingleResponse? {
        guard let found = try find(certificate, issuer: issuer) else { return nil }
        let revocationTime = found.revocationTime.map { Self.secondsSinceEpoch($0) ?? 0 }
        let status: OCSPCertificateStatus
        switch found.status {
        case V_OCSP_CERTSTATUS_GOOD: status = .good
        case V_OCSP_CERTSTATUS_REVOKED:
            status = .revoked(time: revocationTime ?? 0,
                              reason: found.reason >= 0 ? OCSPRevocationReason(rawValue: found.reason) : nil)
        default: status = .unknown
        }
        guard let thisUpdate = Self.secondsSinceEpoch(found.thisUpdate) else {
            throw CryptoError.invalidArgument("the OCSP response's thisUpdate is not a valid time")
        }
        return OCSPSingleResponse(
            status: status, thisUpdate: thisUpdate, nextUpdate: found.nextUpdate.flatMap(Self.secondsSinceEpoch))
    }

    /// True when the entry for `certificate` is current (`OCSP_check_validity`): thisUpdate is not more than
    /// `maxSkewSeconds` in the future, nextUpdate (when present) not more than `maxSkewSeconds` in the past,
    /// and, when `maxAgeSeconds` is not nil, thisUpdate is at most that old. False when the response has no
    /// entry for the certificate.
    ///
    /// - Throws: `.invalidArgument` when the response is not successful.
    public func checkValidity(
        for certificate: X509, issuer: X509, maxSkewSeconds: Int = 300, maxAgeSeconds: Int? = nil
    ) throws -> Bool {
        guard let found = try find(certificate, issuer: issuer) else { return false }
        OpenSSLErrorQueue.clear()
        let valid = OCSP_check_validity(found.thisUpdate, found.nextUpdate, maxSkewSeconds, maxAgeSeconds ?? -1) == 1
        // The reason for "not valid" is the return value; the queue entry it leaves is not an error of ours.
        OpenSSLErrorQueue.clear()
        return valid
    }

    /// Verifies the response's signature (`OCSP_basic_verify`): the signer is found among the certificates
    /// in the response and `untrusted`, its chain is verified against `store`, and it must be the issuer of
    /// the certificates the response covers or a responder that issuer delegated to (`id-kp-OCSPSigning`).
    ///
    /// To trust exactly one issuing CA (which may be an intermediate), put it in a store with
    /// `X509StoreFlags.PARTIAL_CHAIN` and pass it in `untrusted` too, for responses that omit the signer.
    ///
    /// - Throws: `.openSSL` with the drained queue when the signature or the signer does not verify.
    public func verify(store: X509Store, untrusted: [X509] = [], flags: OCSPVerifyFlags = []) throws {
        guard let basic else { throw notSuccessful() }
        OpenSSLErrorQueue.clear()
        let result = try X509Support.withBorrowedStack(of: untrusted) { stack in
            withExtendedLifetime(store) { OCSP_basic_verify(basic, stack, store.pointer, flags.rawValue) }
        }
        guard result > 0 else { throw CryptoError.fromQueue() }
    }

    // MARK: Lookup

    private struct Found {
        let status: Int32
        let reason: Int32
        let revocationTime: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
        let thisUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>
        let nextUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
    }

    /// The entry for `certificate`; its time pointers point into `basic`, which `self` keeps alive.
    private func find(_ certificate: X509, issuer: X509) throws -> Found? {
        guard let basic else { throw notSuccessful() }
        OpenSSLErrorQueue.clear()
        var tried: Set<Int32> = []
        for index in 0..<OCSP_resp_count(basic) {
            guard let single = OCSP_resp_get0(basic, index), let entryID = OCSP_SINGLERESP_get0_id(single) else { continue }
            var algorithm: OpaquePointer?
            guard OCSP_id_get0_info(nil, &algorithm, nil, nil, entryID) == 1,
                  let algorithm else { continue }
            let nid = OBJ_obj2nid(algorithm)
            guard tried.insert(nid).inserted, let shortName = OBJ_nid2sn(nid),
                  let digest = EVP_get_digestbyname(shortName) else { continue }
            guard let id = withExtendedLifetime((certificate, issuer), {
                OCSP_cert_to_id(digest, certificate.pointer, issuer.pointer)
            }) else { throw CryptoError.fromQueue() }
            defer { OCSP_CERTID_free(id) }
            var status: Int32 = -1
            var reason: Int32 = -1
            var revocationTime: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
            var thisUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
            var nextUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
            if OCSP_resp_find_status(basic, id, &status, &reason, &revocationTime, &thisUpdate, &nextUpdate) == 1,
               let thisUpdate {
                return Found(status: status, reason: reason, revocationTime: revocationTime,
                             thisUpdate: thisUpdate, nextUpdate: nextUpdate)
            }
        }
        OpenSSLErrorQueue.clear()
        return nil
    }

    private func notSuccessful() -> CryptoError {
        .invalidArgument("the OCSP response status is \(responseStatus), not successful: it carries no certificate status")
    }

    /// Seconds since the Unix epoch of an ASN.1 time (`ASN1_TIME_diff` from 1970-01-01); nil for a malformed
    /// time.
    static func secondsSinceEpoch(_ time: UnsafePointer<ASN1_TIME>) -> Int64? {
        guard let epoch = ASN1_TIME_set(nil, 0) else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        defer { ASN1_TIME_free(epoch) }
        var days: Int32 = 0
        var seconds: Int32 = 0
        guard ASN1_TIME_diff(&days, &seconds, epoch, time) == 1 else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        return Int64(days) * 86_400 + Int64(seconds)
    }

    private static func secondsSinceEpoch(_ time: UnsafeMutablePointer<ASN1_TIME>) -> Int64? {
        secondsSinceEpoch(UnsafePointer(time))
    }
}

/// The overall status of an OCSP response (RFC 6960 `OCSPResponseStatus`, OpenSSL's
/// `OCSP_RESPONSE_STATUS_*` values). A struct so values outside the RFC's list still round-trip.
public struct OCSPResponseStatus: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The response carries certificate statuses.
    public static let successful = OCSPResponseStatus(rawValue: 0)
    /// The request did not conform to the OCSP syntax.
    public static let malformedRequest = OCSPResponseStatus(rawValue: 1)
    /// The responder reached an inconsistent internal state.
    public static let internalError = OCSPResponseStatus(rawValue: 2)
    /// The responder cannot answer now; try again later.
    public static let tryLater = OCSPResponseStatus(rawValue: 3)
    /// The responder wants signed requests.
    public static let sigRequired = OCSPResponseStatus(rawValue: 5)
    /// The responder is not authoritative for the request.
    public static let unauthorized = OCSPResponseStatus(rawValue: 6)

    /// RFC 6960's name (`successful`, `malformedRequest`, ...), or `status N`.
    public var description: String {
        switch rawValue {
        case 0: return "successful"
        case 1: return "malformedRequest"
        case 2: return "internalError"
        case 3: return "tryLater"
        case 5: return "sigRequired"
        case 6: return "unauthorized"
        default: return "status \(rawValue)"
        }
    }
}

/// What an OCSP response says about one certificate.
public struct OCSPSingleResponse: Sendable, Equatable {
    /// good, revoked or unknown.
    public let status: OCSPCertificateStatus
    /// When the responder knew the status to be correct, seconds since the Unix epoch.
    public let thisUpdate: Int64
    /// When newer information will be available (the end of the response's validity), seconds since the
    /// Unix epoch; nil when the responder gave none (it then always has newer information).
    public let nextUpdate: Int64?

    public init(status: OCSPCertificateStatus, thisUpdate: Int64, nextUpdate: Int64?) {
        self.status = status
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
    }
}

/// RFC 6960 `CertStatus`.
public enum OCSPCertificateStatus: Sendable, Equatable, CustomStringConvertible {
    case good
    /// Revoked at `time` (seconds since the Unix epoch), with the CRL reason when the responder gave one.
    case revoked(time: Int64, reason: OCSPRevocationReason?)
    /// The responder does not know the certificate.
    case unknown

    public var description: String {
        switch self {
        case .good: return "good"
        case .revoked(_, let reason?): return "revoked (\(reason))"
        case .revoked: return "revoked"
        case .unknown: return "unknown"
        }
    }
}

/// RFC 5280 `CRLReason` (OpenSSL's `OCSP_REVOKED_STATUS_*` values).
public struct OCSPRevocationReason: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let unspecified = OCSPRevocationReason(rawValue: 0)
    public static let keyCompromise = OCSPRevocationReason(rawValue: 1)
    public static let caCompromise = OCSPRevocationReason(rawValue: 2)
    public static let affiliationChanged = OCSPRevocationReason(rawValue: 3)
    public static let superseded = OCSPRevocationReason(rawValue: 4)
    public static let cessationOfOperation = OCSPRevocationReason(rawValue: 5)
    public static let certificateHold = OCSPRevocationReason(rawValue: 6)
    public static let removeFromCRL = OCSPRevocationReason(rawValue: 8)
    public static let privilegeWithdrawn = OCSPRevocationReason(rawValue: 9)
    public static let aaCompromise = OCSPRevocationReason(rawValue: 10)

    /// OpenSSL's text (`OCSP_crl_reason_str`): `keyCompromise`, `superseded`, ...
    public var description: String { String(cString: OCSP_crl_reason_str(Int(rawValue))) }
}

/// Flags of `OCSPResponse.verify` (OpenSSL's `OCSP_*` verify flags).
public struct OCSPVerifyFlags: OptionSet, Sendable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// Ignore the certificates included in the response when looking for the signer.
    public static let NOINTERN = OCSPVerifyFlags(rawValue: UInt(OCSP_NOINTERN))
    /// Do not check the signature.
    public static let NOSIGS = OCSPVerifyFlags(rawValue: UInt(OCSP_NOSIGS))
    /// Do not verify the signer's certificate chain.
    public static let NOVERIFY = OCSPVerifyFlags(rawValue: UInt(OCSP_NOVERIFY))
    /// Do not check that the signer is the issuer or a delegated responder.
    public static let NOCHECKS = OCSPVerifyFlags(rawValue: UInt(OCSP_NOCHECKS))
    /// Treat `untrusted` as trusted: a signer found there needs no chain to the store.
    public static let TRUSTOTHER = OCSPVerifyFlags(rawValue: UInt(OCSP_TRUSTOTHER))
    /// Do not search the response's certificates when building the signer's chain.
    public static let NOCHAIN = OCSPVerifyFlags(rawValue: UInt(OCSP_NOCHAIN))
    /// A signer that is neither the issuer nor a delegated responder fails, even when its root is explicitly
    /// trusted for OCSP signing.
    public static let NOEXPLICIT = OCSPVerifyFlags(rawValue: UInt(OCSP_NOEXPLICIT))
}
