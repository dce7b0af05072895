internal import COpenSSL
internal import COpenSSLShim

/// An X.509 certificate (pyOpenSSL's `crypto.X509`). Owns one `X509 *` and frees it in `deinit`.
///
/// Not thread-safe while it is being mutated; a certificate that is only read may be shared.
///
/// OpenSSL keeps the signed TBS encoding of a parsed certificate: changes made to a loaded certificate
/// (setters, name views) show in its getters at once, but in `derBytes()`/`dumpCertificate` only after
/// `sign(key:digest:)` re-encodes it. pyOpenSSL behaves the same way.
public final class X509: @unchecked Sendable {
    /// The owned `X509 *`. Package-visible so `OpenSSLSSL` can hand it to libssl.
    package let pointer: OpaquePointer

    /// Takes ownership of `pointer` (one reference).
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Takes a new reference to `pointer`, for certificates borrowed from libssl.
    package convenience init(retaining pointer: OpaquePointer) {
        X509_up_ref(pointer)
        self.init(owning: pointer)
    }

    /// An empty certificate: version 1 (raw 0), serial 0, no validity and no key.
    public convenience init() throws {
        OpenSSLErrorQueue.clear()
        guard let cert = X509_new() else { throw CryptoError.fromQueue() }
        self.init(owning: cert)
    }

    /// Parses a DER certificate (the Swift counterpart of pyOpenSSL's `X509.from_cryptography`).
    public convenience init(der: some Collection<UInt8>) throws {
        OpenSSLErrorQueue.clear()
        let bytes = Array(der)
        let cert: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
        guard let cert else { throw CryptoError.fromQueue() }
        self.init(owning: cert)
    }

    deinit { X509_free(pointer) }

    /// The DER encoding (the Swift counterpart of pyOpenSSL's `X509.to_cryptography`).
    public func derBytes() throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        var out: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509(pointer, &out)
        guard length >= 0, let out else { throw CryptoError.fromQueue() }
        defer { portcullis_OPENSSL_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }

    // MARK: - Version

    /// Sets the zero-based version (2 means X.509 v3).
    public func setVersion(_ version: Int) throws {
        OpenSSLErrorQueue.clear()
        guard X509_set_version(pointer, version) == 1 else { throw CryptoError.fromQueue() }
    }

    /// The zero-based version (0 for v1, 2 for v3).
    public func getVersion() -> Int {
        X509_get_version(pointer)
    }

    // MARK: - Key and signature

    /// The certificate's public key as a public-only `PKey`. Throws when the certificate has no key.
    public func getPubkey() throws -> PKey {
        OpenSSLErrorQueue.clear()
        guard let key = X509_get_pubkey(pointer) else { throw CryptoError.fromQueue() }
        return PKey(owning: key, publicOnly: true)
    }

    /// Sets the public key (only the public half is stored).
    public func setPubkey(_ key: PKey) throws {
        let pkey = try X509Support.publicKey(key)
        OpenSSLErrorQueue.clear()
        guard X509_set_pubkey(pointer, pkey) == 1 else { throw CryptoError.fromQueue() }
    }

    /// Signs the certificate with `key` using the digest called `digest` (e.g. `"sha256"`).
    ///
    /// `.invalidArgument` for an empty or public-only key and for an unknown digest, as pyOpenSSL's `ValueError`.
    public func sign(key: PKey, digest: String) throws {
        let pkey = try X509Support.signingKey(key)
        let md = try X509Support.digest(named: digest)
        OpenSSLErrorQueue.clear()
        guard X509_sign(pointer, pkey, md) > 0 else { throw CryptoError.fromQueue() }
    }

    /// The long name of the signature algorithm in the TBS part, e.g. `"sha256WithRSAEncryption"`.
    /// `.invalidArgument` when OpenSSL does not know the OID ("Undefined signature algorithm").
    public func getSignatureAlgorithm() throws -> String {
        guard let algorithm = X509_get0_tbs_sigalg(pointer) else {
            throw CryptoError.invalidArgument("Undefined signature algorithm")
        }
        var object: OpaquePointer?
        X509_ALGOR_get0(&object, nil, nil, algorithm)
        let nid = OBJ_obj2nid(object)
        guard nid != NID_undef, let name = OBJ_nid2ln(nid) else {
            OpenSSLErrorQueue.clear()
            throw CryptoError.invalidArgument("Undefined signature algorithm")
        }
        return String(cString: name)
    }

    /// The fingerprint with the digest called `name`, as colon-separated uppercase hex
    /// (`"AB:CD:..."`). `.invalidArgument` for an unknown digest.
    public func digest(_ name: String) throws -> String {
        let md = try X509Support.digest(named: name)
        OpenSSLErrorQueue.clear()
        var buffer = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(pointer, md, &buffer, &length) == 1 else { throw CryptoError.fromQueue() }
        return X509Support.colonHex(buffer.prefix(Int(length)))
    }

    /// `X509_subject_name_hash`: the value `openssl x509 -subject_hash` prints (as an integer).
    public func subjectNameHash() -> Int {
        Int(X509_subject_name_hash(pointer))
    }

    // MARK: - Serial number

    /// Sets the serial number. Arbitrary size; negative values are `.invalidArgument`.
    public func setSerialNumber(_ serial: X509SerialNumber) throws {
        guard !serial.isNegative else { throw CryptoError.invalidArgument("serial number must not be negative") }
        OpenSSLErrorQueue.clear()
        let bn: OpaquePointer? = serial.magnitude.withUnsafeBufferPointer { buffer in
            BN_bin2bn(buffer.baseAddress, Int32(buffer.count), nil)
        }
        guard let bn else { throw CryptoError.fromQueue() }
        defer { BN_free(bn) }
        guard let integer = BN_to_ASN1_INTEGER(bn, nil) else { throw CryptoError.fromQueue() }
        defer { ASN1_INTEGER_free(integer) }
        guard X509_set_serialNumber(pointer, integer) == 1 else { throw CryptoError.fromQueue() }
    }

    /// The serial number (arbitrary size).
    public func getSerialNumber() throws -> X509SerialNumber {
        OpenSSLErrorQueue.clear()
        guard let integer = X509_get0_serialNumber(pointer),
              let bn = ASN1_INTEGER_to_BN(integer, nil) else { throw CryptoError.fromQueue() }
        defer { BN_free(bn) }
        var bytes = [UInt8](repeating: 0, count: Int((BN_num_bits(bn) + 7) / 8))
        let written = BN_bn2bin(bn, &bytes)
        guard written >= 0 else { throw CryptoError.fromQueue() }
        return X509SerialNumber(bigEndianMagnitude: bytes.prefix(Int(written)), negative: BN_is_negative(bn) != 0)
    }

    // MARK: - Validity

    /// Sets notBefore to now + `seconds` (may be negative), `X509_gmtime_adj`.
    public func gmtimeAdjNotBefore(_ seconds: Int) throws {
        OpenSSLErrorQueue.clear()
        guard X509_gmtime_adj(X509_getm_notBefore(pointer), seconds) != nil else { throw CryptoError.fromQueue() }
    }

    /// Sets notAfter to now + `seconds` (may be negative), `X509_gmtime_adj`.
    public func gmtimeAdjNotAfter(_ seconds: Int) throws {
        OpenSSLErrorQueue.clear()
        guard X509_gmtime_adj(X509_getm_notAfter(pointer), seconds) != nil else { throw CryptoError.fromQueue() }
    }

    /// True when notAfter is before the current time. `.invalidArgument` when notAfter is unset or unreadable
    /// (pyOpenSSL's "Unable to determine notAfter").
    public func hasExpired() throws -> Bool {
        guard let notAfter = X509_get0_notAfter(pointer), ASN1_STRING_length(notAfter) > 0 else {
            throw CryptoError.invalidArgument("Unable to determine notAfter")
        }
        let comparison = ASN1_TIME_cmp_time_t(notAfter, time(nil))
        guard comparison != -2 else {
            OpenSSLErrorQueue.clear()
            throw CryptoError.invalidArgument("Unable to determine notAfter")
        }
        return comparison < 0
    }

    /// notBefore as GeneralizedTime text `YYYYMMDDhhmmssZ` (UTCTime converted), or nil when unset.
    public func getNotBefore() -> String? {
        X509Support.timeString(X509_get0_notBefore(pointer))
    }

    /// Sets notBefore from `YYYYMMDDhhmmssZ` (or the `+hhmm`/`-hhmm` offset forms, kept verbatim).
    public func setNotBefore(_ when: String) throws {
        try X509Support.setTime(X509_getm_notBefore(pointer), when)
    }

    /// notAfter as GeneralizedTime text `YYYYMMDDhhmmssZ` (UTCTime converted), or nil when unset.
    public func getNotAfter() -> String? {
        X509Support.timeString(X509_get0_notAfter(pointer))
    }

    /// Sets notAfter from `YYYYMMDDhhmmssZ` (or the `+hhmm`/`-hhmm` offset forms, kept verbatim).
    public func setNotAfter(_ when: String) throws {
        try X509Support.setTime(X509_getm_notAfter(pointer), when)
    }

    // MARK: - Names

    /// A live view of the issuer name: setting fields on it changes this certificate, and it keeps the
    /// certificate alive. After `setIssuer(_:)` the view shows the new issuer.
    public func getIssuer() -> X509Name {
        X509Name(owner: self) { [self] in X509_get_issuer_name(pointer) }
    }

    /// Replaces the issuer with a copy of `name`.
    public func setIssuer(_ name: X509Name) throws {
        OpenSSLErrorQueue.clear()
        guard X509_set_issuer_name(pointer, name.pointer) == 1 else { throw CryptoError.fromQueue() }
    }

    /// A live view of the subject name (see `getIssuer()`).
    public func getSubject() -> X509Name {
        X509Name(owner: self) { [self] in X509_get_subject_name(pointer) }
    }

    /// Replaces the subject with a copy of `name`.
    public func setSubject(_ name: X509Name) throws {
        OpenSSLErrorQueue.clear()
        guard X509_set_subject_name(pointer, name.pointer) == 1 else { throw CryptoError.fromQueue() }
    }

    // MARK: - Extensions

    /// The number of extensions.
    public func getExtensionCount() -> Int {
        Int(X509_get_ext_count(pointer))
    }

    /// Appends copies of `extensions`, in order.
    public func addExtensions(_ extensions: [X509Extension]) throws {
        for ext in extensions {
            OpenSSLErrorQueue.clear()
            guard X509_add_ext(pointer, ext.pointer, -1) == 1 else { throw CryptoError.fromQueue() }
        }
    }

    /// A copy of the extension at `index`. `.indexOutOfRange` outside `0..<getExtensionCount()`.
    public func getExtension(at index: Int) throws -> X509Extension {
        guard index >= 0, index < getExtensionCount() else {
            throw CryptoError.indexOutOfRange("extension index out of bounds: \(index)")
        }
        OpenSSLErrorQueue.clear()
        guard let ext = X509_get_ext(pointer, Int32(index)), let copy = X509_EXTENSION_dup(ext) else {
            throw CryptoError.fromQueue()
        }
        return X509Extension(owning: copy)
    }
}

extension Crypto {
    /// Parses a PEM or DER certificate (`crypto.load_certificate`). `.text` is an argument error.
    public static func loadCertificate(_ type: FileType, _ buffer: some Collection<UInt8>) throws -> X509 {
        OpenSSLErrorQueue.clear()
        let cert: OpaquePointer?
        switch type {
        case .pem:
            let bio = try MemoryBIO(buffer)
            cert = PEM_read_bio_X509(bio.pointer, nil, nil, nil)
        case .asn1:
            let bio = try MemoryBIO(buffer)
            cert = d2i_X509_bio(bio.pointer, nil)
        case .text: throw CryptoError.invalidArgument("type argument must be FILETYPE_PEM or FILETYPE_ASN1")
        }
        guard let cert else { throw CryptoError.fromQueue() }
        return X509(owning: cert)
    }

    /// Parses a certificate given as text (PEM; pyOpenSSL also accepts `str`).
    public static func loadCertificate(_ type: FileType, _ text: String) throws -> X509 {
        try loadCertificate(type, Array(text.utf8))
    }

    /// Encodes a certificate as PEM, DER or human-readable text (`crypto.dump_certificate`; TEXT is
    /// `X509_print_ex` with default flags, the same text as `openssl x509 -text -noout`).
    public static func dumpCertificate(_ type: FileType, _ cert: X509) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        let bio = try MemoryBIO()
        let ok: Int32
        switch type {
        case .pem: ok = PEM_write_bio_X509(bio.pointer, cert.pointer)
        case .asn1: ok = i2d_X509_bio(bio.pointer, cert.pointer)
        case .text: ok = X509_print_ex(bio.pointer, cert.pointer, 0, 0)
        }
        guard ok == 1 else { throw CryptoError.fromQueue() }
        return bio.bytes()
    }
}
