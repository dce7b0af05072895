/// Namespace for pyOpenSSL's `OpenSSL.SSL` module-level functions and constants
/// (`SSL.VERIFY_PEER`, `SSL.openSSLVersion(_:)`).
public enum SSL {}
