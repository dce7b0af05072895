internal import COpenSSL
internal import COpenSSLShim

/// Helpers shared by the X.509 wrappers (certificates, requests, extensions, stores). Internal only.
enum X509Support {
    /// Runs `body` with a `STACK_OF(X509)` that borrows `certificates` (no references are taken, so only the
    /// stack is freed afterwards), or with nil when there are none. `certificates` stay alive during `body`.
    static func withBorrowedStack<Result>(of certificates: [X509], _ body: (OpaquePointer?) throws -> Result) throws -> Result {
        guard !certificates.isEmpty else { return try body(nil) }
        guard let stack = portcullis_sk_X509_new_null() else { throw CryptoError.fromQueue() }
        defer { portcullis_sk_X509_free(stack) }
        for certificate in certificates where portcullis_sk_X509_push(stack, certificate.pointer) <= 0 {
            throw CryptoError.fromQueue()
        }
        return try withExtendedLifetime(certificates) { try body(stack) }
    }

    /// `EVP_get_digestbyname`, with pyOpenSSL's `ValueError("No such digest method")` for unknown names.
    static func digest(named name: String) throws -> OpaquePointer {
        guard !name.utf8.contains(0), let md = EVP_get_digestbyname(name) else {
            OpenSSLErrorQueue.clear()
            throw CryptoError.invalidArgument("No such digest method: \(name)")
        }
        return md
    }

    /// The raw `EVP_PKEY *` of a key that can sign, with pyOpenSSL's refusals for empty and public-only keys.
    static func signingKey(_ key: PKey) throws -> OpaquePointer {
        guard let pointer = key.pointer else { throw CryptoError.invalidArgument("Key is uninitialized") }
        guard !key.isPublicOnly else { throw CryptoError.invalidArgument("Key has only public part") }
        return pointer
    }

    /// The raw `EVP_PKEY *` of a key used for its public half.
    static func publicKey(_ key: PKey) throws -> OpaquePointer {
        guard let pointer = key.pointer else { throw CryptoError.invalidArgument("Key is uninitialized") }
        return pointer
    }

    /// pyOpenSSL's time text: GeneralizedTime `YYYYMMDDhhmmssZ`. A GeneralizedTime value is returned verbatim
    /// (including an offset form that was set verbatim); UTCTime is converted to the 4-digit-year form.
    /// Nil when the time is unset (empty).
    static func timeString(_ time: UnsafePointer<ASN1_TIME>?) -> String? {
        guard let time else { return nil }
        guard ASN1_STRING_length(time) > 0 else { return nil }
        if ASN1_STRING_type(time) == V_ASN1_GENERALIZEDTIME {
            return asciiString(time)
        }
        guard let generalized = ASN1_TIME_to_generalizedtime(time, nil) else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        defer { ASN1_GENERALIZEDTIME_free(generalized) }
        return asciiString(UnsafePointer(generalized))
    }

    /// Sets an `ASN1_TIME` from text `ASN1_TIME_set_string` accepts (`YYYYMMDDhhmmssZ`, `YYMMDDhhmmssZ`, and
    /// offset forms `...+hhmm`/`...-hhmm`); anything else is `.invalidArgument`.
    static func setTime(_ time: UnsafeMutablePointer<ASN1_TIME>?, _ text: String) throws {
        OpenSSLErrorQueue.clear()
        guard let time else { throw CryptoError.invalidArgument("certificate has no validity field") }
        guard !text.utf8.contains(0) else { throw CryptoError.invalidArgument("Invalid string (contains NUL)") }
        guard ASN1_TIME_set_string(time, text) == 1 else {
            OpenSSLErrorQueue.clear()
            throw CryptoError.invalidArgument("Invalid string: \(text)")
        }
    }

    private static func asciiString(_ string: UnsafePointer<ASN1_STRING>) -> String? {
        guard let data = ASN1_STRING_get0_data(string) else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))), as: UTF8.self)
    }

    /// Colon-separated uppercase hex, as pyOpenSSL's `X509.digest` prints fingerprints.
    static func colonHex(_ bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for byte in bytes {
            if !out.isEmpty { out.append(UInt8(ascii: ":")) }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of an `X509_EXTENSION` stack's entries as owned copies, then frees the stack and its entries.
    static func takeExtensions(_ stack: OpaquePointer) throws -> [X509Extension] {
        defer { portcullis_sk_X509_EXTENSION_pop_free(stack) }
        var result: [X509Extension] = []
        let count = portcullis_sk_X509_EXTENSION_num(stack)
        guard count > 0 else { return result }
        for index in 0..<count {
            guard let ext = portcullis_sk_X509_EXTENSION_value(stack, index),
                  let copy = X509_EXTENSION_dup(ext) else { throw CryptoError.fromQueue() }
            result.append(X509Extension(owning: copy))
        }
        return result
    }
}
