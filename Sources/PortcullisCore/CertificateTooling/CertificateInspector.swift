import FoundationEssentials
internal import Glibc
import OpenSSLCrypto

/// `portcullis cert inspect`: a readable summary of a PEM file (any mix of certificates, keys, CSRs and
/// CRLs), a DER certificate, CSR, CRL or key, or a PKCS#12 bundle.
///
/// Each certificate shows subject, issuer, serial, validity (and how long until it expires), key type and
/// size, signature algorithm, SHA-256 fingerprint and every extension as OpenSSL prints it (subjectAltName
/// entries, key usages, basic constraints).
public enum CertificateInspector {
    /// The summary of `bytes` (read from `name`). `password` opens a PKCS#12 bundle or an encrypted PEM key.
    public static func describe(_ bytes: [UInt8], name: String, password: [UInt8]?, now: Date = Date()) throws -> String {
        if bytes.isEmpty { throw CertificateToolError("\(name) is empty") }
        let text = String(decoding: bytes, as: UTF8.self)
        if text.contains("-----BEGIN ") {
            return try describePEM(text, name: name, password: password, now: now)
        }
        return try describeDER(bytes, name: name, password: password, now: now)
    }

    // MARK: PEM

    private static func describePEM(_ text: String, name: String, password: [UInt8]?, now: Date) throws -> String {
        let blocks = pemBlocks(text)
        guard !blocks.isEmpty else { throw CertificateToolError("\(name): a PEM header without a matching END line") }
        var sections: [String] = ["\(name): PEM, \(blocks.count) block\(blocks.count == 1 ? "" : "s")"]
        for (index, block) in blocks.enumerated() {
            let heading = "[\(index + 1)] \(block.label)"
            let pem = Array(block.text.utf8)
            switch block.label {
            case "CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE":
                let certificate: X509
                do { certificate = try Crypto.loadCertificate(.pem, pem) } catch {
                    throw CertificateToolError("\(name): block \(index + 1) is not a valid certificate: \(error)")
                }
                sections.append(heading + "\n" + certificateLines(certificate, now: now))
            case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
                let request: X509Req
                do { request = try Crypto.loadCertificateRequest(.pem, pem) } catch {
                    throw CertificateToolError("\(name): block \(index + 1) is not a valid certificate request: \(error)")
                }
                sections.append(heading + "\n" + requestLines(request))
            case "X509 CRL":
                let crl: CRL
                do { crl = try Crypto.loadCRL(.pem, pem) } catch {
                    throw CertificateToolError("\(name): block \(index + 1) is not a valid CRL: \(error)")
                }
                sections.append(heading + "\n" + crlLines(crl))
            case "PUBLIC KEY":
                let key: PKey
                do { key = try Crypto.loadPublicKey(.pem, pem) } catch {
                    throw CertificateToolError("\(name): block \(index + 1) is not a valid public key: \(error)")
                }
                sections.append(heading + "\n" + field("Key", keyDescription(key)))
            case let label where label.hasSuffix("PRIVATE KEY"):
                sections.append(heading + "\n" + privateKeyLines(pem, encrypted: label.contains("ENCRYPTED")
                    || block.text.contains("Proc-Type: 4,ENCRYPTED"), password: password, name: name, index: index))
            default:
                sections.append(heading + "\n" + field("Contents", "not summarized (\(block.text.utf8.count) bytes)"))
            }
        }
        return sections.joined(separator: "\n\n") + "\n"
    }

    private static func pemBlocks(_ text: String) -> [(label: String, text: String)] {
        var blocks: [(label: String, text: String)] = []
        var current: (label: String, lines: [Substring])?
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let trimmed = line.hasSuffix("\r") ? line.dropLast() : line
            if current == nil, trimmed.hasPrefix("-----BEGIN "), trimmed.hasSuffix("-----") {
                current = (String(trimmed.dropFirst(11).dropLast(5)), [trimmed])
            } else if var open = current {
                open.lines.append(trimmed)
                if trimmed == "-----END \(open.label)-----" {
                    blocks.append((open.label, open.lines.joined(separator: "\n") + "\n"))
                    current = nil
                } else {
                    current = open
                }
            }
        }
        return blocks
    }

    // MARK: DER and PKCS#12

    private static func describeDER(_ bytes: [UInt8], name: String, password: [UInt8]?, now: Date) throws -> String {
        guard bytes.first == 0x30 else {
            throw CertificateToolError("\(name) is neither PEM nor DER (PKCS#12, certificate, CSR, CRL or key)")
        }
        if let certificate = try? Crypto.loadCertificate(.asn1, bytes) {
            return "\(name): DER certificate\n" + certificateLines(certificate, now: now) + "\n"
        }
        if let request = try? Crypto.loadCertificateRequest(.asn1, bytes) {
            return "\(name): DER certificate request\n" + requestLines(request) + "\n"
        }
        if let crl = try? Crypto.loadCRL(.asn1, bytes) {
            return "\(name): DER CRL\n" + crlLines(crl) + "\n"
        }
        if looksLikePKCS12(bytes) {
            return try describePKCS12(bytes, name: name, password: password, now: now)
        }
        if let key = try? Crypto.loadPrivateKey(.asn1, bytes) {
            return "\(name): DER private key\n" + field("Key", keyDescription(key)) + "\n"
        }
        throw CertificateToolError("\(name): DER data that is not a certificate, CSR, CRL, PKCS#12 bundle or private key")
    }

    /// PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, ... }: the version right after the
    /// outer SEQUENCE header is what tells a PKCS#12 file from other DER.
    private static func looksLikePKCS12(_ bytes: [UInt8]) -> Bool {
        guard bytes.count > 8, bytes[0] == 0x30 else { return false }
        var offset = 2
        if bytes[1] & 0x80 != 0 { offset = 2 + Int(bytes[1] & 0x7F) }
        return offset + 2 < bytes.count && bytes[offset] == 0x02 && bytes[offset + 1] == 0x01 && bytes[offset + 2] == 0x03
    }

    private static func describePKCS12(_ bytes: [UInt8], name: String, password: [UInt8]?, now: Date) throws -> String {
        let bundle: PKCS12
        do {
            bundle = try Crypto.loadPKCS12(bytes, passphrase: password)
        } catch let error as CryptoError {
            if case .unsupported(let why) = error { throw CertificateToolError("\(name): \(why)") }
            throw CertificateToolError(password == nil
                ? "\(name) is a PKCS#12 bundle protected by a password: pass --password (or --password-env/--password-file)"
                : "\(name): wrong password for this PKCS#12 bundle (or a damaged file): \(error)")
        }
        var sections = ["\(name): PKCS#12 bundle"]
        if let friendly = bundle.getFriendlyName() {
            sections[0] += "\n" + field("Friendly name", String(decoding: friendly, as: UTF8.self))
        }
        if let certificate = bundle.getCertificate() {
            sections.append("Certificate\n" + certificateLines(certificate, now: now))
        }
        if let key = bundle.getPrivateKey() {
            var lines = field("Key", keyDescription(key))
            if let certificate = bundle.getCertificate(), let matches = keyMatches(key, certificate) {
                lines += "\n" + field("Matches", matches ? "yes, the key belongs to the certificate" : "NO: the key does not belong to the certificate")
            }
            sections.append("Private key\n" + lines)
        }
        for (index, ca) in (bundle.getCACertificates() ?? []).enumerated() {
            sections.append("CA certificate \(index + 1)\n" + certificateLines(ca, now: now))
        }
        return sections.joined(separator: "\n\n") + "\n"
    }

    // MARK: Objects

    static func certificateLines(_ certificate: X509, now: Date) -> String {
        var lines: [String] = []
        lines.append(field("Subject", certificate.getSubject().oneline))
        lines.append(field("Issuer", certificate.getIssuer().oneline))
        lines.append(field("Serial", (try? certificate.getSerialNumber().hexString) ?? "unreadable"))
        let notBefore = certificate.getNotBefore().flatMap(CertificateExpiry.unixTime(generalizedTime:))
        let notAfter = certificate.getNotAfter().flatMap(CertificateExpiry.unixTime(generalizedTime:))
        lines.append(field("Not before", notBefore.map(formatTime) ?? (certificate.getNotBefore() ?? "unset")))
        var validity = notAfter.map(formatTime) ?? (certificate.getNotAfter() ?? "unset")
        if let notAfter, let notBefore {
            let seconds = Int64(now.timeIntervalSince1970)
            if seconds > notAfter {
                validity += " (EXPIRED \(days(seconds - notAfter)) ago)"
            } else if seconds < notBefore {
                validity += " (NOT YET VALID: starts in \(days(notBefore - seconds)))"
            } else {
                validity += " (expires in \(days(notAfter - seconds)))"
            }
        }
        lines.append(field("Not after", validity))
        if let key = try? certificate.getPubkey() { lines.append(field("Key", keyDescription(key))) }
        lines.append(field("Signature", (try? certificate.getSignatureAlgorithm()) ?? "unknown"))
        lines.append(field("SHA-256", (try? certificate.digest("sha256")) ?? "unavailable"))
        lines.append(field("SPKI pin", (try? PublicKeyPin.text(of: certificate)).map { "\($0) (allow_spki_sha256)" } ?? "unavailable"))
        if certificate.getSubject() == certificate.getIssuer() { lines.append(field("Self-issued", "yes (subject = issuer)")) }
        lines += extensionLines((0..<certificate.getExtensionCount()).compactMap { try? certificate.getExtension(at: $0) })
        return lines.joined(separator: "\n")
    }

    static func requestLines(_ request: X509Req) -> String {
        var lines = [field("Subject", request.getSubject().oneline)]
        if let key = try? request.getPubkey() {
            lines.append(field("Key", keyDescription(key)))
            lines.append(field("Signature", (try? request.verify(key: key)) == true ? "valid (self-signed by the key)" : "INVALID"))
        }
        lines += extensionLines((try? request.getExtensions()) ?? [])
        return lines.joined(separator: "\n")
    }

    static func crlLines(_ crl: CRL) -> String {
        var lines: [String] = []
        if let issuer = try? crl.getIssuer() { lines.append(field("Issuer", issuer.oneline)) }
        let revoked = (try? crl.getRevoked()) ?? nil
        lines.append(field("Revoked", "\(revoked?.count ?? 0) certificate(s)"))
        for entry in revoked ?? [] {
            let serial = (try? entry.getSerial()).map { String(decoding: $0, as: UTF8.self) } ?? "unreadable"
            lines.append(field("", "serial \(serial)"))
        }
        return lines.joined(separator: "\n")
    }

    private static func privateKeyLines(_ pem: [UInt8], encrypted: Bool, password: [UInt8]?, name: String, index: Int) -> String {
        if encrypted && password == nil {
            return field("Key", "encrypted; pass --password to read it")
        }
        do {
            let key = try Crypto.loadPrivateKey(.pem, pem, passphrase: password.map { .bytes($0) })
            return field("Key", keyDescription(key)) + (encrypted ? "\n" + field("Encrypted", "yes") : "")
        } catch {
            return field("Key", encrypted ? "cannot decrypt (wrong password?)" : "unreadable: \(error)")
        }
    }

    private static func extensionLines(_ extensions: [X509Extension]) -> [String] {
        extensions.map { ext in
            let shortName = String(decoding: ext.getShortName(), as: UTF8.self)
            let label = shortName == "subjectAltName" ? "SANs" : shortName
            let value = ext.description.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.joined(separator: "; ")
            return field(label, value + (ext.getCritical() == 1 ? " (critical)" : ""))
        }
    }

    /// `RSA 2048-bit`, `ECDSA 256-bit`, `Ed25519`.
    static func keyDescription(_ key: PKey) -> String {
        let type = key.type()
        switch type {
        case Crypto.TYPE_RSA: return "RSA \(key.bits())-bit"
        case Crypto.TYPE_EC: return "ECDSA \(key.bits())-bit"
        case Crypto.TYPE_DSA: return "DSA \(key.bits())-bit"
        case Crypto.TYPE_ED25519: return "Ed25519"
        case Crypto.TYPE_ED448: return "Ed448"
        default: return "key type \(type), \(key.bits()) bits"
        }
    }

    /// Whether `key` is the private half of `certificate`'s public key (nil when that cannot be told).
    static func keyMatches(_ key: PKey, _ certificate: X509) -> Bool? {
        guard let mine = try? Crypto.dumpPublicKey(.asn1, key),
              let theirs = try? Crypto.dumpPublicKey(.asn1, certificate.getPubkey()) else { return nil }
        return mine == theirs
    }

    private static func field(_ name: String, _ value: String) -> String {
        let label = name.isEmpty ? "" : name + ":"
        return "  " + label.padding(toLength: 25, withPad: " ", startingAt: 0) + value
    }

    private static func formatTime(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let (year, month, day) = (Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
        let (hour, minute, second) = (Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(hour)):\(two(minute)):\(two(second)) UTC"
    }

    private static func days(_ seconds: Int64) -> String {
        let days = seconds / 86_400
        if days >= 1 { return "\(days) day\(days == 1 ? "" : "s")" }
        let hours = seconds / 3600
        return "\(hours) hour\(hours == 1 ? "" : "s")"
    }
}
