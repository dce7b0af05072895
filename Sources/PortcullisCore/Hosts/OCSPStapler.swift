internal import Glibc
import OpenSSLCrypto
import OpenSSLSSL

/// One certificate's OCSP response, loaded and checked by `CredentialLoader.loadOCSPStaple` when the host
/// table was compiled.
package struct OCSPStaple: Sendable {
    /// The leaf as the host's context serves it (compared by identity with the certificate OpenSSL selected).
    package let certificate: X509
    /// The DER response, stapled as is.
    package let response: [UInt8]
    /// The `ocsp_response_file` it came from.
    package let file: String
    /// The leaf's subject (one-line form) and serial (upper-case hex), as the certificate expiry metric labels it.
    package let subject: String
    package let serial: String
    /// What the response says about the leaf: good, or revoked (stapled too: see README "OCSP stapling").
    package let status: OCSPCertificateStatus
    /// The response's thisUpdate and nextUpdate, seconds since the Unix epoch; nextUpdate nil when the
    /// responder gave none.
    package let thisUpdate: Int64
    package let nextUpdate: Int64?

    /// How far in the future a thisUpdate may be and still be stapled (clock skew between the responder and
    /// us): the tolerance `OCSP_check_validity` is usually given.
    package static let allowedSkew: Int64 = 300

    /// Stapled while `validFrom <= now < validUntil`: from thisUpdate (less the skew) until nextUpdate.
    package var validFrom: Int64 { thisUpdate - Self.allowedSkew }
    package var validUntil: Int64 { nextUpdate ?? .max }

    package func isCurrent(at now: Int64) -> Bool { now >= validFrom && now < validUntil }
}

/// The OCSP server callback of one host: staples the response of the certificate OpenSSL selected for the
/// client, while that response is current.
///
/// OpenSSL calls it only for clients that sent `status_request`, after certificate selection, on the
/// context of the host SNI selection switched to (the trampoline looks the callback up on the connection's
/// current context), so the host and the certificate are both the ones the client gets. Per handshake: at
/// most two identity compares and one time compare; the response array is shared, not copied (OpenSSL's API
/// then needs its own malloc'd copy, which the trampoline makes).
final class OCSPStapler: Sendable {
    let staples: [OCSPStaple]

    init(_ staples: [OCSPStaple]) {
        self.staples = staples
    }

    /// The response to staple on `connection`: `[]` (staple nothing) when its certificate has no response or
    /// the response is not current at `now` (seconds since the Unix epoch).
    func response(for connection: Connection, now: Int64) -> [UInt8] {
        for staple in staples where connection.presents(staple.certificate) {
            return staple.isCurrent(at: now) ? staple.response : []
        }
        return []
    }

    /// The server callback to install on the host's context.
    var callback: Context.OCSPServerCallback {
        { [self] connection, _ in response(for: connection, now: Int64(time(nil))) }
    }
}
