#if canImport(Glibc)
internal import Glibc
#endif

/// Numeric address validation with the C library's own parser, so we accept exactly what `bind`/`connect`
/// will accept.
enum IPAddressText {
    static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}
