public import OpenSSLCrypto

/// pyOpenSSL's `SSL.X509VerificationCodes`: the `X509_V_*` codes a verify callback receives as
/// `errorNumber` and `Connection.getVerifyResult()` returns. One table serves both modules: this is
/// `OpenSSLCrypto.X509VerificationCode` (compare with `.rawValue`; `.message` is OpenSSL's text).
public typealias X509VerificationCodes = X509VerificationCode
