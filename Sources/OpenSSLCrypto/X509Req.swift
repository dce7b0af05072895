internal import COpenSSL
internal import COpenSSLShim

/// A PKCS#10 certificate signing request (pyOpenSSL's `crypto.X509Req`). Owns one `X509_REQ *`.
///
/// Not thread-safe while it is being mutated. As with `X509`, changes to a parsed request reach its encoding
/// only when it is signed again.
public final class X509Req: @unchecked Sendable {
    /// The owned `X509_REQ *`.
    package let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// An empty request: version 0, empty subject, no key.
    public convenience init() throws {
        OpenSSLErrorQueue.clear()
        guard let req = X509_REQ_new() else { throw CryptoError.fromQueue() }
        self.init(owning: req)
        // A fresh X509_REQ carries an empty version INTEGER (get_version reports -1); pin it to 0 as
        // pyOpenSSL does.
        try setVersion(0)
    }

    deinit { X509_REQ_free(pointer) }

    /// Sets the public key.
    public func setPubkey(_ key: PKey) throws {
        let pkey = try X509Support.publicKey(key)
        OpenSSLErrorQueue.clear()
        guard X509_REQ_set_pubkey(pointer, pkey) == 1 else { throw CryptoError.fromQueue() }
    }

    /// The request's public key as a public-only `PKey`. Throws when the request has none.
    public func getPubkey() throws -> PKey {
        OpenSSLErrorQueue.clear()
        guard let key = X509_REQ_get_pubkey(pointer) else { throw CryptoError.fromQueue() }
        return PKey(owning: key, publicOnly: true)
    }

    /// Sets the version. PKCS#10 defines only version 0 (v1); anything else is `.invalidArgument`
    /// ("Invalid version. The only valid version for X509Req is 0.", as pyOpenSSL since 23.2.0).
    public func setVersion(_ version: Int) throws {
        guard version == 0 else {
            throw CryptoError.invalidArgument("Invalid version. The only valid version for X509Req is 0.")
        }
        OpenSSLErrorQueue.clear()
        guard X509_REQ_set_version(pointer, 0) == 1 else { throw CryptoError.fromQueue() }
    }

    /// The version (0).
    public func getVersion() -> Int {
        X509_REQ_get_version(pointer)
    }

    /// A live view of the subject: setting fields on it changes this request, and it keeps the request alive.
    public func getSubject() -> X509Name {
        X509Name(owner: self) { [self] in X509_REQ_get_subject_name(pointer) }
    }

    /// Adds `extensions` as one extensionRequest attribute (`X509_REQ_add_extensions`).
    public func addExtensions(_ extensions: [X509Extension]) throws {
        OpenSSLErrorQueue.clear()
        guard let stack = portcullis_sk_X509_EXTENSION_new_null() else { throw CryptoError.fromQueue() }
        defer { portcullis_sk_X509_EXTENSION_free(stack) }
        for ext in extensions {
            guard portcullis_sk_X509_EXTENSION_push(stack, ext.pointer) > 0 else { throw CryptoError.fromQueue() }
        }
        let added = withExtendedLifetime(extensions) { X509_REQ_add_extensions(pointer, stack) }
        guard added == 1 else { throw CryptoError.fromQueue() }
    }

    /// Copies of the requested extensions; `[]` when there are none.
    public func getExtensions() throws -> [X509Extension] {
        OpenSSLErrorQueue.clear()
        guard let stack = X509_REQ_get_extensions(pointer) else {
            // 3.0 returns NULL only on a malformed attribute; "no extensions" is an empty stack.
            if OpenSSLErrorQueue.isEmpty { return [] }
            throw CryptoError.fromQueue()
        }
        return try X509Support.takeExtensions(stack)
    }

    /// Signs the request with `key` and the digest called `digest`. `.invalidArgument` for an empty or
    /// public-only key and an unknown digest.
    public func sign(key: PKey, digest: String) throws {
        let pkey = try X509Support.signingKey(key)
        let md = try X509Support.digest(named: digest)
        OpenSSLErrorQueue.clear()
        guard X509_REQ_sign(pointer, pkey, md) > 0 else { throw CryptoError.fromQueue() }
    }

    /// Checks the request's signature with `key`. Returns true when it verifies; a wrong key or a bad
    /// signature throws `.openSSL` (pyOpenSSL raises rather than returning false).
    @discardableResult
    public func verify(key: PKey) throws -> Bool {
        let pkey = try X509Support.publicKey(key)
        OpenSSLErrorQueue.clear()
        let result = X509_REQ_verify(pointer, pkey)
        guard result > 0 else { throw CryptoError.fromQueue() }
        return true
    }
}

extension Crypto {
    /// Parses a PEM or DER certificate signing request (`crypto.load_certificate_request`).
    public static func loadCertificateRequest(_ type: FileType, _ buffer: some Collection<UInt8>) throws -> X509Req {
        OpenSSLErrorQueue.clear()
        let req: OpaquePointer?
        switch type {
        case .pem:
            let bio = try MemoryBIO(buffer)
            req = PEM_read_bio_X509_REQ(bio.pointer, nil, nil, nil)
        case .asn1:
            let bio = try MemoryBIO(buffer)
            req = d2i_X509_REQ_bio(bio.pointer, nil)
        case .text: throw CryptoError.invalidArgument("type argument must be FILETYPE_PEM or FILETYPE_ASN1")
        }
        guard let req else { throw CryptoError.fromQueue() }
        return X509Req(owning: req)
    }

    /// Parses a certificate signing request given as PEM text.
    public static func loadCertificateRequest(_ type: FileType, _ text: String) throws -> X509Req {
        try loadCertificateRequest(type, Array(text.utf8))
    }

    /// Encodes a request as PEM, DER or human-readable text (`crypto.dump_certificate_request`).
    public static func dumpCertificateRequest(_ type: FileType, _ req: X509Req) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        let bio = try MemoryBIO()
        let ok: Int32
        switch type {
        case .pem: ok = PEM_write_bio_X509_REQ(bio.pointer, req.pointer)
        case .asn1: ok = i2d_X509_REQ_bio(bio.pointer, req.pointer)
        case .text: ok = X509_REQ_print_ex(bio.pointer, req.pointer, 0, 0)
        }
        guard ok == 1 else { throw CryptoError.fromQueue() }
        return bio.bytes()
    }
}
