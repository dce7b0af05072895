import Logging
import Synchronization

/// The warning for a client certificate too large for the PROXY v2 header, logged once per host per
/// process: a client can present such a certificate on every connection, and the log must not grow with it.
/// The connection goes on with a header without the certificate (the backend can tell from the missing
/// sub-TLV), as the brief of `proxy_client_certificate` promises.
enum OversizedCertificateWarning {
    private static let warned = Mutex<Set<String>>([])

    /// Logs the warning the first time it is called for `host`; later calls do nothing.
    static func note(host: String, certificateBytes: Int, limit: Int) {
        let first = warned.withLock { $0.insert(host).inserted }
        guard first else { return }
        Logger(label: "portcullis").warning(
            "host \(host): a client certificate of \(certificateBytes) bytes does not fit the PROXY v2 header (at most \(limit) bytes in all); it is left out of the header, the connection goes on (logged once per host)")
    }
}
