internal import COpenSSL

extension SSL {
    /// The linked libssl's version number (`OpenSSL_version_num()`, 0x30000160 for 3.0.22).
    public static let OPENSSL_VERSION_NUMBER = Int(OpenSSL_version_num())

    // Selectors for `openSSLVersion(_:)` (OpenSSL's raw values).
    public static let OPENSSL_VERSION: Int32 = 0
    public static let OPENSSL_CFLAGS: Int32 = 1
    public static let OPENSSL_BUILT_ON: Int32 = 2
    public static let OPENSSL_PLATFORM: Int32 = 3
    public static let OPENSSL_DIR: Int32 = 4

    @available(*, deprecated, renamed: "OPENSSL_VERSION")
    public static let SSLEAY_VERSION: Int32 = 0
    @available(*, deprecated, renamed: "OPENSSL_CFLAGS")
    public static let SSLEAY_CFLAGS: Int32 = 1
    @available(*, deprecated, renamed: "OPENSSL_BUILT_ON")
    public static let SSLEAY_BUILT_ON: Int32 = 2
    @available(*, deprecated, renamed: "OPENSSL_PLATFORM")
    public static let SSLEAY_PLATFORM: Int32 = 3
    @available(*, deprecated, renamed: "OPENSSL_DIR")
    public static let SSLEAY_DIR: Int32 = 4

    /// `OpenSSL_version(type)`: the library's description for one selector (for example
    /// `b"OpenSSL 3.0.22 ..."` for `OPENSSL_VERSION`). An unknown selector gives OpenSSL's "not available".
    public static func openSSLVersion(_ type: Int32) -> [UInt8] {
        guard let text = OpenSSL_version(type) else { return [] }
        return Array(String(cString: text).utf8)
    }

    /// pyOpenSSL's old name for `openSSLVersion(_:)`.
    @available(*, deprecated, renamed: "openSSLVersion(_:)")
    public static func ssleayVersion(_ type: Int32) -> [UInt8] { openSSLVersion(type) }
}
