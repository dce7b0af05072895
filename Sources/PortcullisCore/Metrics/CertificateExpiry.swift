import FoundationEssentials
import OpenSSLCrypto

/// The expiry of one served certificate: a `portcullis_certificate_expiry_timestamp_seconds` sample.
struct CertificateExpiry: Sendable, Equatable {
    /// The `[[host]] name` serving it.
    var host: String
    /// The subject in OpenSSL's one-line form (`/CN=www.example.com`), as the access log shows names.
    var subject: String
    /// The serial number, upper-case hex.
    var serial: String
    /// notAfter, seconds since the Unix epoch.
    var notAfter: Int64

    /// The leaf certificate of every certificate of every host of `table`.
    ///
    /// The table keeps no `X509` objects (OpenSSL holds them inside each host's frozen context and 3.0 offers
    /// no way to list them without iterating the context's slots), so the chain files are read again right
    /// after the table was compiled from them, on the thread that compiled it. A file that cannot be read
    /// any more is skipped rather than failing the reload that has just succeeded.
    static func inventory(of table: HostTable) -> [CertificateExpiry] {
        var result: [CertificateExpiry] = []
        for host in table.hosts {
            for certificate in host.configuration.certificates {
                guard let data = FileManager.default.contents(atPath: certificate.chainFile),
                      let x509 = try? Crypto.loadCertificate(.pem, Array(data)),
                      let notAfterText = x509.getNotAfter(),
                      let notAfter = unixTime(generalizedTime: notAfterText) else { continue }
                let serial = (try? x509.getSerialNumber().hexString) ?? ""
                result.append(CertificateExpiry(
                    host: host.name, subject: x509.getSubject().oneline, serial: serial, notAfter: notAfter))
            }
        }
        return result
    }

    /// Seconds since the Unix epoch for `YYYYMMDDhhmmssZ` (what `X509.getNotAfter()` returns); nil for any
    /// other form.
    static func unixTime(generalizedTime text: String) -> Int64? {
        let digits = Array(text.utf8)
        guard digits.count == 15, digits[14] == UInt8(ascii: "Z"),
              digits[0..<14].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        func number(_ range: Range<Int>) -> Int64 {
            digits[range].reduce(0) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
        }
        let year = number(0..<4), month = number(4..<6), day = number(6..<8)
        let hour = number(8..<10), minute = number(10..<12), second = number(12..<14)
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        return daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
