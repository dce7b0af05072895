internal import COpenSSL
internal import COpenSSLShim

/// An X.509 v3 extension (pyOpenSSL's `crypto.X509Extension`). Owns one `X509_EXTENSION *`.
///
/// Immutable once built; safe to share between threads.
public final class X509Extension: @unchecked Sendable, CustomStringConvertible {
    /// The owned `X509_EXTENSION *`.
    package let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Builds an extension from OpenSSL configuration syntax (`X509V3_EXT_nconf` without a configuration
    /// database), e.g. `("basicConstraints", critical: true, value: "CA:false")` or
    /// `("subjectAltName", critical: false, value: "DNS:example.com, IP:192.0.2.1")`.
    ///
    /// - Parameters:
    ///   - typeName: the extension's short name (`OBJ_sn2nid`), e.g. `subjectAltName`.
    ///   - critical: prepends `critical,` to the value.
    ///   - subject: the certificate the extension is for, needed by `subjectKeyIdentifier=hash`.
    ///   - issuer: the issuing certificate, needed by `authorityKeyIdentifier`.
    /// - Throws: `.openSSL` for an unknown name ("unknown extension name"), a malformed value, a missing
    ///   subject ("no subject details") or issuer, and for values that reference configuration sections
    ///   (there is no database to resolve them).
    public init(typeName: String, critical: Bool, value: String, subject: X509? = nil, issuer: X509? = nil) throws {
        guard !typeName.utf8.contains(0), !value.utf8.contains(0) else {
            throw CryptoError.invalidArgument("extension name and value must not contain NUL bytes")
        }
        OpenSSLErrorQueue.clear()
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer?.pointer, subject?.pointer, nil, nil, 0)
        portcullis_X509V3_set_ctx_nodb(&context)
        let text = critical ? "critical," + value : value
        let ext = withExtendedLifetime((subject, issuer)) {
            X509V3_EXT_nconf(nil, &context, typeName, text)
        }
        guard let ext else { throw CryptoError.fromQueue() }
        pointer = ext
    }

    deinit { X509_EXTENSION_free(pointer) }

    /// 1 when the extension is marked critical, 0 otherwise.
    public func getCritical() -> Int {
        Int(X509_EXTENSION_get_critical(pointer))
    }

    /// The short name of the extension type, e.g. `basicConstraints`; `UNDEF` for an OID OpenSSL does not know
    /// (the string `OBJ_nid2sn(NID_undef)` gives on 3.0).
    public func getShortName() -> [UInt8] {
        let nid = OBJ_obj2nid(X509_EXTENSION_get_object(pointer))
        guard let name = OBJ_nid2sn(nid) else { return Array("UNDEF".utf8) }
        return Array(String(cString: name).utf8)
    }

    /// The DER encoding of the extension value (the OCTET STRING contents), e.g. `30 03 01 01 ff` for `CA:true`.
    public func getData() -> [UInt8] {
        guard let data = X509_EXTENSION_get_data(pointer) else { return [] }
        let length = Int(ASN1_STRING_length(data))
        guard length > 0, let bytes = ASN1_STRING_get0_data(data) else { return [] }
        return Array(UnsafeBufferPointer(start: bytes, count: length))
    }

    /// The text `X509V3_EXT_print` produces (`CA:FALSE`, `Digital Signature, Key Encipherment`, ...).
    ///
    /// subjectAltName is special-cased as in pyOpenSSL: `DNS:`, `email:` and `URI:` entries are printed from
    /// their raw bytes (so an embedded NUL cannot hide the rest of a name), other kinds as
    /// `GENERAL_NAME_print` does (`IP Address:192.0.2.1`), joined by `", "`. Unknown extension types are
    /// hex-dumped instead of failing.
    public var description: String {
        if OBJ_obj2nid(X509_EXTENSION_get_object(pointer)) == NID_subject_alt_name, let text = subjectAltNameText() {
            return text
        }
        guard let bio = try? MemoryBIO() else { return "" }
        if X509V3_EXT_print(bio.pointer, pointer, portcullis_X509V3_EXT_DUMP_UNKNOWN, 0) != 1 {
            OpenSSLErrorQueue.clear()
        }
        return bio.string()
    }

    private func subjectAltNameText() -> String? {
        guard let decoded = X509V3_EXT_d2i(pointer) else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        let names = OpaquePointer(decoded)
        defer { GENERAL_NAMES_free(names) }
        var parts: [String] = []
        let count = portcullis_sk_GENERAL_NAME_num(names)
        for index in 0..<max(count, 0) {
            guard let name = portcullis_sk_GENERAL_NAME_value(names, index) else { continue }
            var type: Int32 = 0
            let value = GENERAL_NAME_get0_value(name, &type)
            let label: String? = switch type {
            case GEN_DNS: "DNS"
            case GEN_EMAIL: "email"
            case GEN_URI: "URI"
            default: nil
            }
            if let label, let value {
                let string = value.assumingMemoryBound(to: ASN1_STRING.self)
                let length = Int(ASN1_STRING_length(string))
                var bytes: [UInt8] = []
                if length > 0, let data = ASN1_STRING_get0_data(string) {
                    bytes = Array(UnsafeBufferPointer(start: data, count: length))
                }
                parts.append(label + ":" + String(decoding: bytes, as: UTF8.self))
            } else {
                guard let bio = try? MemoryBIO() else { continue }
                GENERAL_NAME_print(bio.pointer, name)
                parts.append(bio.string())
            }
        }
        return parts.joined(separator: ", ")
    }
}
