/// Namespace for pyOpenSSL's `OpenSSL.crypto` module-level functions and constants
/// (`crypto.load_certificate` is `Crypto.loadCertificate`).
public enum Crypto {}
