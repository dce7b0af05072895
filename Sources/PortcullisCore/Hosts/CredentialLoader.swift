import FoundationEssentials
import Logging
import OpenSSLCrypto
import OpenSSLSSL

/// Reads private keys, passphrases and CRLs from disk for `HostTableCompiler` and `portcullis check`.
enum CredentialLoader {
    /// Why a credential could not be read, phrased for an operator.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Loads the private key of `certificate`, with its passphrase if one is configured. Warns (once per
    /// load) when the key file is readable by group or others.
    static func loadKey(_ certificate: CertificateConfiguration, logger: Logger) throws -> PKey {
        warnIfExposed(certificate.keyFile, logger: logger)
        let bytes = try readFile(certificate.keyFile, what: "private key")
        var passphrase: Passphrase?
        if let source = certificate.passphrase { passphrase = .bytes(try readPassphrase(source)) }
        do {
            return try Crypto.loadPrivateKey(.pem, bytes, passphrase: passphrase)
        } catch {
            let detail = describe(error)
            // A wrong passphrase usually fails the padding check ("bad decrypt"), but about one time in 256
            // the garbage it decrypts to has valid padding and the DER parser fails instead: for an encrypted
            // PEM with a passphrase, any failure means the passphrase.
            let encrypted = Self.isEncryptedPEM(bytes)
            if detail.contains("bad decrypt") || (passphrase == nil && detail.contains("bad password read"))
                || (passphrase != nil && encrypted) {
                throw Failure(description: passphrase == nil
                    ? "private key \(certificate.keyFile) is encrypted: set key_passphrase_file or key_passphrase_env"
                    : "wrong passphrase for private key \(certificate.keyFile) (from \(certificate.passphrase!))")
            }
            throw Failure(description: "cannot read private key \(certificate.keyFile) (expected a PEM private key): \(detail)")
        }
    }

    /// True for a PEM private key that is encrypted: PKCS#8 (`ENCRYPTED PRIVATE KEY`) or a traditional key
    /// with a `Proc-Type: 4,ENCRYPTED` header.
    static func isEncryptedPEM(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
        return text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.contains("Proc-Type: 4,ENCRYPTED")
    }

    /// True (and a warning logged) when users other than the proxy's can read or write the key at `path`:
    /// any permission for others, or group permissions for a group the proxy does not run in. A key shared
    /// with the proxy's own group (`root:portcullis`, mode 0640, the way a service user is given a key it
    /// must not own) is fine; `processGroups` is checked at each load, so after a switch to `user` the
    /// reloads see the service's groups.
    @discardableResult
    static func warnIfExposed(_ path: String, logger: Logger, processGroups: Set<UInt32> = LocalFile.processGroups()) -> Bool {
        guard let ownership = LocalFile.ownership(path) else { return false }
        let mode = ownership.mode
        let advice: String
        if mode & 0o007 != 0 {
            advice = "every user on the machine can access it; run: chmod o= \(path)"
        } else if mode & 0o070 != 0, !processGroups.contains(ownership.group) {
            advice = "its group (gid \(ownership.group)) is not one the proxy runs in; run: chmod 600 \(path), or give it the proxy's group"
        } else {
            return false
        }
        logger.warning("private key file is accessible by other users: \(advice)", metadata: [
            "file": "\(path)", "mode": "\(String(mode, radix: 8))",
        ])
        return true
    }

    static func readFile(_ path: String, what: String) throws -> [UInt8] {
        do {
            return try LocalFile.read(path)
        } catch {
            throw Failure(description: "cannot read \(what) \(path): \(error)")
        }
    }

    /// The passphrase bytes: the first line of the file (without its line ending), or the variable's value.
    static func readPassphrase(_ source: PassphraseSource) throws -> [UInt8] {
        switch source {
        case .file(let path):
            let bytes = try readFile(path, what: "passphrase file")
            let firstLine = bytes.prefix { $0 != 0x0A }
            return Array(firstLine.last == 0x0D ? firstLine.dropLast() : firstLine)
        case .environment(let name):
            guard let value = ProcessInfo.processInfo.environment[name] else {
                throw Failure(description: "environment variable \(name) (key_passphrase_env) is not set")
            }
            return Array(value.utf8)
        }
    }

    /// Loads every CRL of `path` (PEM, one or more `X509 CRL` blocks; or one DER CRL) into `context`'s trust
    /// store and turns on `CRL_CHECK`: the client certificate (the chain's leaf) must then be covered by a
    /// current CRL from its issuer and not be listed in it. Intermediate CAs are not checked (that would be
    /// `CRL_CHECK_ALL`, which fails every client whose chain has a CA without a CRL in the file).
    ///
    /// Certificates in the file are ignored, never trusted. Returns the SHA-256 of the file's bytes, which
    /// goes into the host's session-id context.
    static func installCRLs(_ path: String, into context: Context) throws -> [UInt8] {
        let bytes = try readFile(path, what: "CRL file")
        let crls: [CRL]
        do {
            crls = try Crypto.loadCRLs(containsPEMHeader(bytes) ? .pem : .asn1, bytes)
        } catch {
            throw Failure(description: "cannot read CRL file \(path) (expected PEM \"X509 CRL\" blocks or one DER CRL): \(describe(error))")
        }
        guard let store = context.getCertStore() else {
            throw Failure(description: "cannot install CRL file \(path): the TLS context has no certificate store")
        }
        do {
            for crl in crls { try store.addCRL(crl) }
            try store.setFlags(.CRL_CHECK)
        } catch {
            throw Failure(description: "cannot install CRL file \(path): \(describe(error))")
        }
        return try Crypto.digest("sha256", bytes)
    }

    /// SHA-256 over the contents of the trust anchors a host verifies clients with: `client_ca_file`, and
    /// every file in `client_ca_dir` (name and contents). It goes into the host's session-id context, so
    /// replacing or removing a CA, even under the same file name, ends resumption of sessions verified
    /// against the old set: every client is verified again by a full handshake after the reload.
    static func trustAnchorsDigest(caFile: String?, caDirectory: String?) throws -> [UInt8] {
        var summary: [UInt8] = []
        if let caFile {
            summary += Array("ca_file\n".utf8) + (try Crypto.digest("sha256", readFile(caFile, what: "client CA file")))
        }
        if let caDirectory {
            let names: [String]
            do { names = try LocalFile.directoryEntries(caDirectory) } catch {
                throw Failure(description: "cannot list client CA directory \(caDirectory): \(error)")
            }
            for name in names {
                // Subdirectories and unreadable entries are not CAs OpenSSL can use; their name still counts.
                let contents = (try? LocalFile.read(caDirectory + "/" + name)) ?? []
                summary += Array("ca_dir_entry\n\(name)\n".utf8) + (try Crypto.digest("sha256", contents))
            }
        }
        return try Crypto.digest("sha256", summary)
    }

    /// Loads and checks the OCSP response `file` for `leaf` (the certificate the host's context serves from
    /// `chainFile`), as of `now` (seconds since the Unix epoch).
    ///
    /// Configuration errors (thrown): the file cannot be read or is not a DER OCSP response; its status is
    /// not `successful`; it has no entry for the leaf (a response for another certificate); the entry is
    /// `unknown`; the chain file has no certificate for the leaf's issuer; the signature does not verify
    /// against that issuer (the issuer signed it, or a responder it delegated to with id-kp-OCSPSigning).
    ///
    /// Loaded with a warning naming the file: a response whose nextUpdate has passed (kept, never stapled),
    /// one whose thisUpdate is still in the future (stapled from then on), and one that says `revoked`
    /// (stapled: clients that check must learn the truth; the certificate has to be replaced).
    static func loadOCSPStaple(_ file: String, chainFile: String, leaf: X509, logger: Logger, now: Int64) throws -> OCSPStaple {
        let bytes = try readFile(file, what: "OCSP response")
        let response: OCSPResponse
        do {
            response = try OCSPResponse(der: bytes)
        } catch {
            throw Failure(description: "cannot read OCSP response \(file) (expected a DER OCSP response, as `openssl ocsp -respout` writes): \(describe(error))")
        }
        guard response.responseStatus == .successful else {
            throw Failure(description: "OCSP response \(file) has status \(response.responseStatus), not successful: it says nothing about the certificate")
        }
        let subject = leaf.getSubject().oneline
        let serial = (try? leaf.getSerialNumber().hexString) ?? ""
        let chain = try readCertificates(chainFile)
        let issuerName = leaf.getIssuer()
        guard let issuer = chain.dropFirst().first(where: { $0.getSubject() == issuerName }) else {
            throw Failure(description: "certificate chain \(chainFile) has no issuer certificate (\(issuerName.oneline)) after the leaf; it is needed to check OCSP response \(file): append the issuing CA's certificate to the chain file")
        }
        let single: OCSPSingleResponse?
        do {
            single = try response.singleResponse(for: leaf, issuer: issuer)
        } catch {
            throw Failure(description: "cannot read OCSP response \(file): \(describe(error))")
        }
        guard let single else {
            throw Failure(description: "OCSP response \(file) is for another certificate: it has no entry for \(subject) (serial \(serial)) of \(chainFile) issued by \(issuerName.oneline)")
        }
        if single.status == .unknown {
            throw Failure(description: "OCSP response \(file) says the responder does not know \(subject) (serial \(serial)): status unknown; fetch it from the issuer's responder")
        }
        do {
            let store = try X509Store()
            try store.addCert(issuer)
            // The issuer (often an intermediate) is the trust anchor: the response must come from it or
            // from a responder it certified.
            try store.setFlags(.PARTIAL_CHAIN)
            try response.verify(store: store, untrusted: Array(chain.dropFirst()))
        } catch {
            throw Failure(description: "OCSP response \(file) is not signed by the issuer of \(chainFile) (\(issuerName.oneline)) nor by a responder it delegated to: \(describe(error))")
        }
        let staple = OCSPStaple(
            certificate: leaf, response: response.derBytes, file: file, subject: subject, serial: serial,
            status: single.status, thisUpdate: single.thisUpdate, nextUpdate: single.nextUpdate)
        let metadata: Logger.Metadata = ["file": "\(file)", "certificate": "\(subject)"]
        if case .revoked(let time, _) = single.status {
            logger.warning("OCSP response \(file) says certificate \(subject) (serial \(serial)) was REVOKED at \(isoTime(time)) (\(single.status)); stapling it as it is, so clients that check refuse the certificate: replace the certificate", metadata: metadata)
        }
        if let nextUpdate = single.nextUpdate, nextUpdate <= now {
            logger.warning("OCSP response \(file) expired at \(isoTime(nextUpdate)) (nextUpdate); not stapling it: fetch a new response and reload", metadata: metadata)
        } else if staple.validFrom > now {
            logger.warning("OCSP response \(file) is not valid before \(isoTime(single.thisUpdate)) (thisUpdate, clock skew?); stapling it from then on", metadata: metadata)
        }
        return staple
    }

    /// Every certificate of the PEM file `path`, in file order.
    static func readCertificates(_ path: String) throws -> [X509] {
        let text = String(decoding: try readFile(path, what: "certificate chain"), as: UTF8.self)
        let begin = "-----BEGIN CERTIFICATE-----", end = "-----END CERTIFICATE-----"
        var certificates: [X509] = []
        var rest = Substring(text)
        while let start = rest.range(of: begin), let stop = rest.range(of: end, range: start.upperBound..<rest.endIndex) {
            do {
                certificates.append(try Crypto.loadCertificate(.pem, String(rest[start.lowerBound..<stop.upperBound])))
            } catch {
                throw Failure(description: "cannot read certificate \(certificates.count + 1) of \(path): \(describe(error))")
            }
            rest = rest[stop.upperBound...]
        }
        return certificates
    }

    /// `2026-11-23T14:10:19Z`.
    static func isoTime(_ secondsSinceEpoch: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(secondsSinceEpoch)).formatted(.iso8601)
    }

    /// True when `bytes` contain a PEM `-----BEGIN ` line start (PEM may be preceded by text).
    private static func containsPEMHeader(_ bytes: [UInt8]) -> Bool {
        let marker = Array("-----BEGIN ".utf8)
        guard bytes.count >= marker.count else { return false }
        return (0...(bytes.count - marker.count)).contains { bytes[$0..<$0 + marker.count].elementsEqual(marker) }
    }

    static func keyTypeName(_ type: Int32) -> String {
        switch type {
        case Crypto.TYPE_RSA: return "RSA"
        case Crypto.TYPE_EC: return "ECDSA"
        case Crypto.TYPE_DSA: return "DSA"
        case Crypto.TYPE_ED25519: return "Ed25519"
        case Crypto.TYPE_ED448: return "Ed448"
        default: return "type \(type)"
        }
    }

    /// OpenSSL's reasons, without the wrapper's prefix ("no such file", "key values mismatch").
    static func describe(_ error: any Error) -> String {
        if let error = error as? SSLError, !error.entries.isEmpty {
            return error.entries.map { $0.reason }.joined(separator: "; ")
        }
        if let error = error as? CryptoError, !error.entries.isEmpty {
            return error.entries.map { $0.reason }.joined(separator: "; ")
        }
        return "\(error)"
    }
}
