/// The end of validity of one stapled OCSP response: a `portcullis_ocsp_response_next_update_timestamp_seconds`
/// sample, labelled like the certificate's `portcullis_certificate_expiry_timestamp_seconds`.
struct OCSPResponseExpiry: Sendable, Equatable {
    /// The `[[host]] name` serving the certificate.
    var host: String
    /// The certificate's subject (one-line form) and serial (upper-case hex).
    var subject: String
    var serial: String
    /// The response's nextUpdate, seconds since the Unix epoch.
    var nextUpdate: Int64

    /// Every OCSP response `table` loaded that has a nextUpdate (one without is current until replaced,
    /// and has no sample). Taken from the responses the table holds, not from the files again.
    static func inventory(of table: HostTable) -> [OCSPResponseExpiry] {
        table.hosts.flatMap { host in
            host.ocspStaples.compactMap { staple in
                staple.nextUpdate.map {
                    OCSPResponseExpiry(host: host.name, subject: staple.subject, serial: staple.serial, nextUpdate: $0)
                }
            }
        }
    }
}
