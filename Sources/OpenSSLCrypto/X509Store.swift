internal import COpenSSL

/// A trust store (pyOpenSSL's `crypto.X509Store`). Owns one reference to an `X509_STORE *`.
///
/// Configure it before sharing it: OpenSSL locks lookups, but the setters here are not meant to race with
/// verifications running on other threads.
public final class X509Store: @unchecked Sendable {
    /// The `X509_STORE *`. Package-visible so an SSL `Context` can expose its own store through this type.
    package let pointer: OpaquePointer

    /// Takes ownership of one reference to `pointer`.
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Takes a new reference to a store owned elsewhere (for example by an `SSL_CTX`).
    package convenience init(retaining pointer: OpaquePointer) {
        X509_STORE_up_ref(pointer)
        self.init(owning: pointer)
    }

    /// An empty store (`X509_STORE_new`).
    public convenience init() throws {
        OpenSSLErrorQueue.clear()
        guard let store = X509_STORE_new() else { throw CryptoError.fromQueue() }
        self.init(owning: store)
    }

    deinit { X509_STORE_free(pointer) }

    /// Adds a trusted certificate (the store takes its own reference). Adding the same certificate twice is
    /// not an error.
    public func addCert(_ cert: X509) throws {
        OpenSSLErrorQueue.clear()
        guard X509_STORE_add_cert(pointer, cert.pointer) == 1 else { throw CryptoError.fromQueue() }
    }

    /// Adds a CRL (`X509_STORE_add_crl` takes its own reference). CRLs are consulted only when
    /// `X509StoreFlags.CRL_CHECK` (or `CRL_CHECK_ALL`) is set.
    public func addCRL(_ crl: CRL) throws {
        OpenSSLErrorQueue.clear()
        guard X509_STORE_add_crl(pointer, crl.pointer) == 1 else { throw CryptoError.fromQueue() }
    }

    /// Adds a DER-encoded CRL. CRLs are consulted only when `X509StoreFlags.CRL_CHECK` (or `CRL_CHECK_ALL`)
    /// is set. Garbage bytes throw `.openSSL`.
    public func addCRL(der: some Collection<UInt8>) throws {
        OpenSSLErrorQueue.clear()
        let bytes = Array(der)
        let crl: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_X509_CRL(nil, &cursor, buffer.count)
        }
        guard let crl else { throw CryptoError.fromQueue() }
        defer { X509_CRL_free(crl) }
        guard X509_STORE_add_crl(pointer, crl) == 1 else { throw CryptoError.fromQueue() }
    }

    /// ORs `flags` into the store's verification flags (`X509_STORE_set_flags`).
    public func setFlags(_ flags: X509StoreFlags) throws {
        OpenSSLErrorQueue.clear()
        guard X509_STORE_set_flags(pointer, flags.rawValue) == 1 else { throw CryptoError.fromQueue() }
    }

    /// Verifies as of `secondsSinceEpoch` (UTC) instead of the current time (`X509_VERIFY_PARAM_set_time`;
    /// pyOpenSSL's `set_time(datetime)`).
    public func setTime(secondsSinceEpoch: Int) throws {
        OpenSSLErrorQueue.clear()
        guard let param = X509_STORE_get0_param(pointer) else { throw CryptoError.fromQueue() }
        X509_VERIFY_PARAM_set_time(param, time_t(secondsSinceEpoch))
    }

    /// Loads trusted certificates (and CRLs) from a PEM file and/or a hashed directory (`<hash>.0` names, as
    /// `c_rehash`/`openssl rehash` make). May be called repeatedly to add more.
    ///
    /// - Throws: `.invalidArgument` when both are nil; `.openSSL` when the file cannot be read or holds no
    ///   PEM certificate.
    public func loadLocations(caFile: String?, caPath: String? = nil) throws {
        guard caFile != nil || caPath != nil else {
            throw CryptoError.invalidArgument("caFile and caPath cannot both be nil")
        }
        guard !(caFile?.utf8.contains(0) ?? false), !(caPath?.utf8.contains(0) ?? false) else {
            throw CryptoError.invalidArgument("path contains a NUL byte")
        }
        OpenSSLErrorQueue.clear()
        let ok = Self.withOptionalCString(caFile) { file in
            Self.withOptionalCString(caPath) { path in X509_STORE_load_locations(pointer, file, path) }
        }
        guard ok == 1 else { throw CryptoError.fromQueue() }
    }

    private static func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let string else { return body(nil) }
        return string.withCString { body($0) }
    }
}

/// Verification flags for `X509Store.setFlags(_:)` (pyOpenSSL's `X509StoreFlags`), with OpenSSL's
/// `X509_V_FLAG_*` raw values.
public struct X509StoreFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    public static let CRL_CHECK = X509StoreFlags(rawValue: 0x4)
    public static let CRL_CHECK_ALL = X509StoreFlags(rawValue: 0x8)
    public static let IGNORE_CRITICAL = X509StoreFlags(rawValue: 0x10)
    public static let X509_STRICT = X509StoreFlags(rawValue: 0x20)
    public static let ALLOW_PROXY_CERTS = X509StoreFlags(rawValue: 0x40)
    public static let POLICY_CHECK = X509StoreFlags(rawValue: 0x80)
    public static let EXPLICIT_POLICY = X509StoreFlags(rawValue: 0x100)
    public static let INHIBIT_MAP = X509StoreFlags(rawValue: 0x400)
    /// Removed from pyOpenSSL in 23.2.0; kept because OpenSSL 3.0 still honours it.
    public static let NOTIFY_POLICY = X509StoreFlags(rawValue: 0x800)
    public static let CHECK_SS_SIGNATURE = X509StoreFlags(rawValue: 0x4000)
    public static let PARTIAL_CHAIN = X509StoreFlags(rawValue: 0x80000)
}
