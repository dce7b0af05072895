internal import COpenSSL
internal import COpenSSLShim

/// A certificate revocation list (pyOpenSSL's `crypto.CRL`). Owns one `X509_CRL *`.
///
/// `pointer` is package-visible so `X509Store.addCRL` can hand the CRL to OpenSSL (which takes its own
/// reference). Not thread-safe while it is being mutated.
public final class CRL: @unchecked Sendable {
    /// The owned `X509_CRL *`.
    package let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// An empty CRL: no entries (`getRevoked()` is nil), no issuer, no dates.
    public convenience init() throws {
        guard let crl = X509_CRL_new() else { throw CryptoError.fromQueue() }
        self.init(owning: crl)
    }

    deinit { X509_CRL_free(pointer) }

    /// Copies of the revocation entries in list order, or nil when there are none (`CRL.get_revoked`).
    /// Mutating a returned entry does not change the CRL.
    public func getRevoked() throws -> [Revoked]? {
        OpenSSLErrorQueue.clear()
        guard let stack = X509_CRL_get_REVOKED(pointer) else { return nil }
        var entries: [Revoked] = []
        for index in 0..<portcullis_sk_X509_REVOKED_num(stack) {
            guard let copy = X509_REVOKED_dup(portcullis_sk_X509_REVOKED_value(stack, index)) else {
                throw CryptoError.fromQueue()
            }
            entries.append(Revoked(owning: copy))
        }
        return entries.isEmpty ? nil : entries
    }

    /// Adds a copy of `revoked` (`CRL.add_revoked`); later changes to `revoked` do not affect the CRL.
    public func addRevoked(_ revoked: Revoked) throws {
        OpenSSLErrorQueue.clear()
        guard let copy = X509_REVOKED_dup(revoked.pointer) else { throw CryptoError.fromQueue() }
        guard X509_CRL_add0_revoked(pointer, copy) == 1 else {
            X509_REVOKED_free(copy)
            throw CryptoError.fromQueue()
        }
    }

    /// A copy of the issuer name (`CRL.get_issuer`).
    public func getIssuer() throws -> X509Name {
        OpenSSLErrorQueue.clear()
        guard let copy = X509_NAME_dup(X509_CRL_get_issuer(pointer)) else { throw CryptoError.fromQueue() }
        return X509Name(owning: copy)
    }

    /// Sets the zero-based version (1 is a v2 CRL, needed for entry and CRL extensions) (`CRL.set_version`).
    public func setVersion(_ version: Int) throws {
        OpenSSLErrorQueue.clear()
        guard X509_CRL_set_version(pointer, version) == 1 else { throw CryptoError.fromQueue() }
    }

    /// Sets thisUpdate from an ASN.1 time string such as `"20140601000000Z"` (`CRL.set_lastUpdate`).
    public func setLastUpdate(_ when: some Collection<UInt8>) throws {
        try RevocationTime.with(when) { (time) throws(CryptoError) in
            guard X509_CRL_set1_lastUpdate(pointer, time) == 1 else { throw CryptoError.fromQueue() }
        }
    }

    /// Sets thisUpdate from text.
    public func setLastUpdate(_ when: String) throws { try setLastUpdate(Array(when.utf8)) }

    /// Sets nextUpdate from an ASN.1 time string (`CRL.set_nextUpdate`).
    public func setNextUpdate(_ when: some Collection<UInt8>) throws {
        try RevocationTime.with(when) { (time) throws(CryptoError) in
            guard X509_CRL_set1_nextUpdate(pointer, time) == 1 else { throw CryptoError.fromQueue() }
        }
    }

    /// Sets nextUpdate from text.
    public func setNextUpdate(_ when: String) throws { try setNextUpdate(Array(when.utf8)) }

    /// Signs the CRL (`CRL.sign`): the issuer name becomes `issuerCert`'s subject, the entries are sorted by
    /// serial, then `X509_CRL_sign` with `digest`. An unknown digest or an empty key is `.invalidArgument`.
    public func sign(issuerCert: X509, issuerKey: PKey, digest: String) throws {
        OpenSSLErrorQueue.clear()
        let md = try MessageDigestName.lookup(digest)
        let key = try issuerKey.requirePointer("CRL.sign")
        guard X509_CRL_set_issuer_name(pointer, X509_get_subject_name(issuerCert.pointer)) == 1 else {
            throw CryptoError.fromQueue()
        }
        guard X509_CRL_sort(pointer) == 1 else { throw CryptoError.fromQueue() }
        guard X509_CRL_sign(pointer, key, md) > 0 else { throw CryptoError.fromQueue() }
    }

    /// Stamps, signs and encodes the CRL (`CRL.export`): thisUpdate = now, nextUpdate = now + `days`,
    /// issuer = `cert`'s subject, signed by `key` with `digest` (mandatory, as since pyOpenSSL 17.1), then
    /// dumped as `type`. An unknown digest or an empty key is `.invalidArgument`; a signing failure (for
    /// example a key that cannot sign) is `.openSSL`.
    public func export(cert: X509, key: PKey, type: FileType = .pem, days: Int = 100, digest: String) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        let md = try MessageDigestName.lookup(digest)
        let pkey = try key.requirePointer("CRL.export")
        guard let time = ASN1_TIME_new() else { throw CryptoError.fromQueue() }
        defer { ASN1_TIME_free(time) }
        guard X509_gmtime_adj(time, 0) != nil, X509_CRL_set1_lastUpdate(pointer, time) == 1,
              X509_gmtime_adj(time, days * 24 * 60 * 60) != nil, X509_CRL_set1_nextUpdate(pointer, time) == 1,
              X509_CRL_set_issuer_name(pointer, X509_get_subject_name(cert.pointer)) == 1
        else { throw CryptoError.fromQueue() }
        guard X509_CRL_sign(pointer, pkey, md) > 0 else { throw CryptoError.fromQueue() }
        return try Crypto.dumpCRL(type, self)
    }
}

extension Crypto {
    /// Parses a PEM or DER CRL (`crypto.load_crl`). `.text` is `.invalidArgument`; garbage is `.openSSL`.
    public static func loadCRL(_ type: FileType, _ buffer: some Collection<UInt8>) throws -> CRL {
        OpenSSLErrorQueue.clear()
        let crl: OpaquePointer?
        switch type {
        case .pem:
            let bio = try MemoryBIO(buffer)
            defer { withExtendedLifetime(bio) {} }  // the C call below reads bio.pointer after its last Swift use
            crl = PEM_read_bio_X509_CRL(bio.pointer, nil, nil, nil)
        case .asn1:
            let bio = try MemoryBIO(buffer)
            defer { withExtendedLifetime(bio) {} }  // the C call below reads bio.pointer after its last Swift use
            crl = d2i_X509_CRL_bio(bio.pointer, nil)
        case .text: throw CryptoError.invalidArgument("type argument must be FILETYPE_PEM or FILETYPE_ASN1")
        }
        guard let crl else { throw CryptoError.fromQueue() }
        return CRL(owning: crl)
    }

    /// Parses a CRL given as PEM text.
    public static func loadCRL(_ type: FileType, _ text: String) throws -> CRL {
        try loadCRL(type, Array(text.utf8))
    }

    /// Encodes a CRL as PEM, DER or `X509_CRL_print` text (`crypto.dump_crl`).
    public static func dumpCRL(_ type: FileType, _ crl: CRL) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        let bio = try MemoryBIO()
        let ok: Int32
        switch type {
        case .pem: ok = PEM_write_bio_X509_CRL(bio.pointer, crl.pointer)
        case .asn1: ok = i2d_X509_CRL_bio(bio.pointer, crl.pointer)
        case .text: ok = X509_CRL_print(bio.pointer, crl.pointer)
        }
        guard ok == 1 else { throw CryptoError.fromQueue() }
        return bio.bytes()
    }
}
