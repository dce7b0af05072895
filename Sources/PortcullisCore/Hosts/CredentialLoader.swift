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
            if detail.contains("bad decrypt") || (passphrase == nil && detail.contains("bad password read")) {
                throw Failure(description: passphrase == nil
                    ? "private key \(certificate.keyFile) is encrypted: set key_passphrase_file or key_passphrase_env"
                    : "wrong passphrase for private key \(certificate.keyFile) (from \(certificate.passphrase!))")
            }
            throw Failure(description: "cannot read private key \(certificate.keyFile) (expected a PEM private key): \(detail)")
        }
    }

    /// True (and a warning logged) when `path` is readable or writable by group or others.
    @discardableResult
    static func warnIfExposed(_ path: String, logger: Logger) -> Bool {
        guard let mode = LocalFile.permissions(path) else { return false }
        guard mode & 0o077 != 0 else { return false }
        logger.warning("private key file is accessible by other users; run: chmod 600 \(path)", metadata: [
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
