internal import COpenSSL
internal import COpenSSLShim

/// Verifies one certificate against a trust store (pyOpenSSL's `crypto.X509StoreContext`).
///
/// Holds the store, the target certificate and optional untrusted intermediates. Each verification builds a
/// fresh `X509_STORE_CTX`, so the object can be reused and reconfigured (`setStore(_:)`) between calls.
/// Not thread-safe while it is being reconfigured.
public final class X509StoreContext: @unchecked Sendable {
    private var store: X509Store
    private let certificate: X509
    private let chain: [X509]

    /// - Parameters:
    ///   - store: the trusted certificates, CRLs, flags and verification time.
    ///   - certificate: the certificate to verify.
    ///   - chain: untrusted intermediates OpenSSL may use to build the path (never trusted by themselves).
    public init(store: X509Store, certificate: X509, chain: [X509]? = nil) throws {
        self.store = store
        self.certificate = certificate
        self.chain = chain ?? []
    }

    /// Uses `store` for future verifications.
    public func setStore(_ store: X509Store) {
        self.store = store
    }

    /// Verifies the certificate. Throws `X509StoreContextError` (code, depth, message, failing certificate)
    /// when the chain cannot be built or checked.
    public func verifyCertificate() throws {
        _ = try verify(collectChain: false)
    }

    /// Verifies the certificate and returns the chain OpenSSL built, leaf first and trust anchor last.
    /// Throws `X509StoreContextError` like `verifyCertificate()`.
    public func getVerifiedChain() throws -> [X509] {
        try verify(collectChain: true)
    }

    private func verify(collectChain: Bool) throws -> [X509] {
        OpenSSLErrorQueue.clear()
        guard let context = X509_STORE_CTX_new() else { throw CryptoError.fromQueue() }
        defer { X509_STORE_CTX_free(context) }

        let store = self.store
        let result = try X509Support.withBorrowedStack(of: chain) { untrusted in
            guard X509_STORE_CTX_init(context, store.pointer, certificate.pointer, untrusted) == 1 else {
                throw CryptoError.fromQueue()
            }
            return withExtendedLifetime((store, certificate)) { X509_verify_cert(context) }
        }
        guard result == 1 else {
            let code = X509_STORE_CTX_get_error(context)
            let depth = X509_STORE_CTX_get_error_depth(context)
            let failing = X509_STORE_CTX_get_current_cert(context).map { X509(retaining: $0) }
            // Verification failures are reported through the context; anything OpenSSL queued on the way
            // (for example while decoding a key) is stale once the error is built.
            OpenSSLErrorQueue.clear()
            throw X509StoreContextError(code: code, depth: Int(depth), certificate: failing)
        }
        guard collectChain else { return [] }
        guard let built = X509_STORE_CTX_get1_chain(context) else { throw CryptoError.fromQueue() }
        // get1 gives one reference per certificate: hand each to an owning X509, then free only the stack.
        defer { portcullis_sk_X509_free(built) }
        let count = portcullis_sk_X509_num(built)
        var certificates: [X509] = []
        certificates.reserveCapacity(Int(max(count, 0)))
        for index in 0..<max(count, 0) {
            if let cert = portcullis_sk_X509_value(built, index) {
                certificates.append(X509(owning: cert))
            }
        }
        return certificates
    }
}

/// A verification failure from `X509StoreContext` (pyOpenSSL's `crypto.X509StoreContextError`).
public struct X509StoreContextError: Error, Sendable, CustomStringConvertible {
    /// The `X509_V_ERR_*` code.
    public let code: Int32
    /// How far up the chain the failure was found (0 is the target certificate).
    public let depth: Int
    /// OpenSSL's text for `code`, e.g. "unable to get local issuer certificate".
    public let message: String
    /// The certificate at `depth` that failed, when OpenSSL names one.
    public let certificate: X509?

    public init(code: Int32, depth: Int, certificate: X509?) {
        self.code = code
        self.depth = depth
        self.message = X509VerificationCode(rawValue: code).message
        self.certificate = certificate
    }

    /// `code` as a named verification code.
    public var verificationCode: X509VerificationCode { X509VerificationCode(rawValue: code) }

    /// pyOpenSSL's `errors` list: `[code, depth, message]`.
    public var errors: (code: Int32, depth: Int, message: String) { (code, depth, message) }

    public var description: String { "\(message) (code \(code), depth \(depth))" }
}
