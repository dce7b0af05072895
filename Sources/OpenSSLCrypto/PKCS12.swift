internal import COpenSSL
internal import COpenSSLShim

/// A PKCS#12 bundle being assembled or just parsed (pyOpenSSL's `crypto.PKCS12`): a certificate, its private
/// key, CA certificates and a friendly name, all optional.
///
/// Like pyOpenSSL's class it is a plain container of wrapper objects; the OpenSSL `PKCS12` structure exists
/// only inside `export` and `Crypto.loadPKCS12`. Not thread-safe while it is being mutated.
public final class PKCS12 {
    private var certificate: X509?
    private var privateKey: PKey?
    private var caCertificates: [X509]?
    private var friendlyName: [UInt8]?

    /// An empty bundle: every getter returns nil.
    public init() {}

    /// The certificate, or nil.
    public func getCertificate() -> X509? { certificate }
    /// Replaces the certificate (nil removes it).
    public func setCertificate(_ cert: X509?) { certificate = cert }

    /// The private key, or nil.
    public func getPrivateKey() -> PKey? { privateKey }
    /// Replaces the private key (nil removes it).
    public func setPrivateKey(_ key: PKey?) { privateKey = key }

    /// The CA certificates in order; nil when none were set, `[]` when an empty list was set.
    public func getCACertificates() -> [X509]? { caCertificates }
    /// Replaces the CA certificates; nil removes them all.
    public func setCACertificates(_ certs: [X509]?) { caCertificates = certs }

    /// The friendly name (the certificate's alias), or nil.
    public func getFriendlyName() -> [UInt8]? { friendlyName }
    /// Replaces the friendly name; nil removes it.
    public func setFriendlyName(_ name: (some Collection<UInt8>)?) { friendlyName = name.map { Array($0) } }
    /// Replaces the friendly name with UTF-8 text; nil removes it.
    public func setFriendlyName(_ name: String?) { friendlyName = name.map { Array($0.utf8) } }

    /// Encodes the bundle as DER (`PKCS12.export`, `PKCS12_create`).
    ///
    /// Key and certificates are encrypted with pbeWithSHA1And3-KeyTripleDES-CBC (implemented by OpenSSL 3.0's
    /// default provider, unlike the old RC2-40 default). `iter` is the PBE iteration count; `macIter` the MAC
    /// iteration count (HMAC-SHA256, OpenSSL 3.0's default), with -1 omitting the MAC. A nil passphrase is
    /// OpenSSL's "no password". A key that does not match the certificate is `.openSSL` ("key values
    /// mismatch"). A passphrase or friendly name containing a NUL byte is `.invalidArgument` (OpenSSL reads
    /// both as C strings).
    public func export(passphrase: [UInt8]? = nil, iter: Int = 2048, macIter: Int = 1) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        guard let iterations = Int32(exactly: iter), let macIterations = Int32(exactly: macIter) else {
            throw CryptoError.invalidArgument("iteration counts must fit in 32 bits")
        }
        let pass = try PKCS12.cString(passphrase, what: "passphrase")
        let name = try PKCS12.cString(friendlyName, what: "friendly name")
        // The stack only borrows the certificates (PKCS12_create copies what it needs).
        let p12 = try X509Support.withBorrowedStack(of: caCertificates ?? []) { stack in
            withExtendedLifetime((certificate, privateKey)) {
                PKCS12.withOptionalCString(pass) { passPointer in
                    PKCS12.withOptionalCString(name) { namePointer in
                        PKCS12_create(
                            passPointer, namePointer, privateKey?.pointer, certificate?.pointer, stack,
                            NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                            iterations, macIterations, 0)
                    }
                }
            }
        }
        guard let p12 else { throw CryptoError.fromQueue() }
        defer { PKCS12_free(p12) }
        let bio = try MemoryBIO()
        guard i2d_PKCS12_bio(bio.pointer, p12) == 1 else { throw CryptoError.fromQueue() }
        return bio.bytes()
    }

    /// Encodes the bundle with a UTF-8 passphrase.
    public func export(passphrase: String, iter: Int = 2048, macIter: Int = 1) throws -> [UInt8] {
        try export(passphrase: Array(passphrase.utf8), iter: iter, macIter: macIter)
    }

    fileprivate static func cString(_ bytes: [UInt8]?, what: String) throws(CryptoError) -> [CChar]? {
        guard let bytes else { return nil }
        guard !bytes.contains(0) else { throw CryptoError.invalidArgument("\(what) must not contain a NUL byte") }
        return bytes.map { CChar(bitPattern: $0) } + [0]
    }

    fileprivate static func withOptionalCString<R>(_ text: [CChar]?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let text else { return body(nil) }
        return text.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

extension Crypto {
    /// Parses a DER PKCS#12 file (`crypto.load_pkcs12`, `PKCS12_parse`). The MAC is always checked; with a nil
    /// or empty passphrase both "no password" and the empty password are tried. The friendly name comes from
    /// the certificate's alias; an empty CA list reads back as nil.
    ///
    /// Errors: garbage or a wrong passphrase is `.openSSL`. A file protected with an algorithm only OpenSSL
    /// 3.0's legacy provider implements (RC2-40-CBC, the default of OpenSSL 1.x and of many Windows exports,
    /// or RC4/DES) is `.unsupported` naming the algorithm, since the default provider refuses it; re-encode it
    /// (for example `openssl pkcs12 -legacy` to read, then export with AES or 3DES).
    public static func loadPKCS12(_ buffer: some Collection<UInt8>, passphrase: [UInt8]? = nil) throws -> PKCS12 {
        OpenSSLErrorQueue.clear()
        let pass = try PKCS12.cString(passphrase, what: "passphrase")
        let bio = try MemoryBIO(buffer)
        defer { withExtendedLifetime(bio) {} }  // the C call below reads bio.pointer after its last Swift use
        guard let p12 = d2i_PKCS12_bio(bio.pointer, nil) else { throw CryptoError.fromQueue() }
        defer { PKCS12_free(p12) }
        var key: OpaquePointer?
        var cert: OpaquePointer?
        var cas: OpaquePointer?
        let parsed = PKCS12.withOptionalCString(pass) { PKCS12_parse(p12, $0, &key, &cert, &cas) }
        guard parsed == 1 else {
            let entries = OpenSSLErrorQueue.drain()
            if let legacy = entries.first(where: { $0.reason == "unsupported" || $0.data.contains("Algorithm (") }) {
                throw CryptoError.unsupported(
                    "PKCS#12 data is encrypted with an algorithm OpenSSL 3.0's default provider refuses "
                        + "(legacy algorithms such as RC2-40-CBC need the legacy provider): "
                        + "\(legacy.library): \(legacy.reason)" + (legacy.data.isEmpty ? "" : " (\(legacy.data))"))
            }
            throw entries.isEmpty ? CryptoError.fromQueue() : CryptoError.openSSL(entries)
        }
        let result = PKCS12()
        if let key { result.setPrivateKey(PKey(owning: key, publicOnly: false)) }
        if let cert {
            var length: Int32 = 0
            if let alias = X509_alias_get0(cert, &length) {
                result.setFriendlyName(Array(UnsafeBufferPointer(start: alias, count: Int(length))))
            }
            result.setCertificate(X509(owning: cert))
        }
        if let cas {
            // Take over each certificate's reference, then free only the stack.
            let count = portcullis_sk_X509_num(cas)
            let certs = (0..<count).compactMap { portcullis_sk_X509_value(cas, $0).map { X509(owning: $0) } }
            portcullis_sk_X509_free(cas)
            if !certs.isEmpty { result.setCACertificates(certs) }
        }
        return result
    }

    /// Parses a DER PKCS#12 file with a UTF-8 passphrase.
    public static func loadPKCS12(_ buffer: some Collection<UInt8>, passphrase: String) throws -> PKCS12 {
        try loadPKCS12(buffer, passphrase: Array(passphrase.utf8))
    }
}
