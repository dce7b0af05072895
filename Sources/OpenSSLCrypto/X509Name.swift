internal import COpenSSL
internal import COpenSSLShim

/// An X.509 distinguished name (pyOpenSSL's `crypto.X509Name`).
///
/// A name is either owned (a copy) or a live view into a certificate or CSR. A view keeps its owner alive,
/// so the borrowed `X509_NAME *` can never dangle. A view obtained from `X509.getSubject()` and friends
/// re-reads the owner's current name on every use: after `setSubject(_:)` it shows the new subject instead of
/// pointing at the freed old one (pyOpenSSL invalidates such views; here they simply stay live).
///
/// Attribute access follows pyOpenSSL: fields are addressed by short or long OpenSSL names (`"CN"`,
/// `"commonName"`, `"emailAddress"`, any name `OBJ_txt2nid` knows); an unknown name throws. Reading returns
/// the first entry for that field decoded to UTF-8; writing replaces the first entry (or appends one).
public final class X509Name: @unchecked Sendable, CustomStringConvertible {
    private enum Storage {
        case owned(OpaquePointer)
        case borrowed(OpaquePointer, owner: AnyObject)
        case live(owner: AnyObject, resolve: () -> OpaquePointer)
    }

    private let storage: Storage

    /// The `X509_NAME *`: owned, borrowed from a fixed location in its owner, or the owner's current name.
    package var pointer: OpaquePointer {
        switch storage {
        case .owned(let pointer), .borrowed(let pointer, _): return pointer
        case .live(_, let resolve): return resolve()
        }
    }

    /// Takes ownership of `pointer`.
    package init(owning pointer: OpaquePointer) {
        storage = .owned(pointer)
    }

    /// A view of a name inside `owner` at a fixed address; `owner` is kept alive.
    package init(borrowing pointer: OpaquePointer, owner: AnyObject) {
        storage = .borrowed(pointer, owner: owner)
    }

    /// A live view: `resolve` returns the owner's current `X509_NAME *` each time it is needed, so replacing
    /// the name inside the owner (which frees the old one) never leaves this view dangling.
    package init(owner: AnyObject, resolve: @escaping () -> OpaquePointer) {
        storage = .live(owner: owner, resolve: resolve)
    }

    /// A deep, independent copy of `name` (pyOpenSSL's `X509Name(name)`, `X509_NAME_dup`).
    public convenience init(copying name: X509Name) throws {
        OpenSSLErrorQueue.clear()
        guard let copy = X509_NAME_dup(name.pointer) else { throw CryptoError.fromQueue() }
        self.init(owning: copy)
    }

    /// An empty name, for building subjects and issuers from scratch.
    public convenience init() throws {
        OpenSSLErrorQueue.clear()
        guard let name = X509_NAME_new() else { throw CryptoError.fromQueue() }
        self.init(owning: name)
    }

    deinit {
        if case .owned(let pointer) = storage { X509_NAME_free(pointer) }
    }

    // MARK: - Fields

    /// A field of a name, identified by its OpenSSL NID. The static members are the fields pyOpenSSL documents,
    /// under both their long and short names; `init(_:)` accepts any name or dotted OID OpenSSL knows.
    public struct Field: Hashable, Sendable {
        /// The OpenSSL NID.
        public let nid: Int32

        /// Looks up a short name (`"CN"`), long name (`"commonName"`) or dotted OID. Unknown names throw
        /// `.invalidArgument` (pyOpenSSL's `AttributeError`) and leave the error queue empty.
        public init(_ name: String) throws {
            guard !name.utf8.contains(0) else { throw CryptoError.invalidArgument("field name contains a NUL byte") }
            let nid = OBJ_txt2nid(name)
            OpenSSLErrorQueue.clear()
            guard nid != NID_undef else { throw CryptoError.invalidArgument("X509Name has no attribute '\(name)'") }
            self.nid = nid
        }

        private init(nid: Int32) { self.nid = nid }

        /// The short name, e.g. `"CN"`.
        public var shortName: String { OBJ_nid2sn(nid).map { String(cString: $0) } ?? "UNDEF" }
        /// The long name, e.g. `"commonName"`.
        public var longName: String { OBJ_nid2ln(nid).map { String(cString: $0) } ?? "undefined" }

        public static let countryName = Field(nid: NID_countryName)
        public static let stateOrProvinceName = Field(nid: NID_stateOrProvinceName)
        public static let localityName = Field(nid: NID_localityName)
        public static let organizationName = Field(nid: NID_organizationName)
        public static let organizationalUnitName = Field(nid: NID_organizationalUnitName)
        public static let commonName = Field(nid: NID_commonName)
        public static let emailAddress = Field(nid: NID_pkcs9_emailAddress)
        public static let C = countryName
        public static let ST = stateOrProvinceName
        public static let L = localityName
        public static let O = organizationName
        public static let OU = organizationalUnitName
        public static let CN = commonName
    }

    /// The first entry for `field` decoded to UTF-8, or nil when the name has no such entry.
    /// Embedded NUL characters are kept.
    public subscript(field: Field) -> String? {
        let name = pointer
        let index = X509_NAME_get_index_by_NID(name, field.nid, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index),
              let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else {
            // Undecodable string type: report it as absent rather than leaving a stale queue entry behind.
            OpenSSLErrorQueue.clear()
            return nil
        }
        defer { portcullis_OPENSSL_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }

    /// The first entry for the field called `name` (pyOpenSSL's `name.CN` / `getattr(name, "commonName")`).
    /// Throws `.invalidArgument` for a name OpenSSL does not know.
    public subscript(name: String) -> String? {
        get throws { self[try Field(name)] }
    }

    /// Replaces the first entry for `field` with `value` (or appends one), as UTF8String or the type the
    /// field's string table mandates (PrintableString for `C`).
    ///
    /// The explicit length is passed, so embedded NUL bytes survive (pyOpenSSL's CVE-2026-40475 fix). A value
    /// OpenSSL refuses (for example a 512-byte `O`, or a 3-letter `C`) throws `.openSSL` and leaves the name
    /// unchanged.
    public func set(_ field: Field, _ value: String) throws {
        try set(field, utf8: Array(value.utf8))
    }

    /// Sets the field called `name` (pyOpenSSL's `name.CN = value`). Unknown names throw `.invalidArgument`.
    public func set(_ name: String, _ value: String) throws {
        try set(try Field(name), value)
    }

    /// Sets `field` from raw UTF-8 bytes (NULs allowed).
    public func set(_ field: Field, utf8 value: [UInt8]) throws {
        let name = pointer
        OpenSSLErrorQueue.clear()
        let existing = X509_NAME_get_index_by_NID(name, field.nid, -1)
        // Append first and remove the old entry only once the new one is in: a refused value leaves the name
        // exactly as it was (pyOpenSSL deletes first and loses the old value on failure).
        let added = value.withUnsafeBufferPointer { buffer in
            X509_NAME_add_entry_by_NID(name, field.nid, MBSTRING_UTF8, buffer.baseAddress, Int32(buffer.count), -1, 0)
        }
        guard added == 1 else { throw CryptoError.fromQueue() }
        if existing >= 0, let removed = X509_NAME_delete_entry(name, existing) {
            X509_NAME_ENTRY_free(removed)
        }
    }

    public var countryName: String? { self[.countryName] }
    public var stateOrProvinceName: String? { self[.stateOrProvinceName] }
    public var localityName: String? { self[.localityName] }
    public var organizationName: String? { self[.organizationName] }
    public var organizationalUnitName: String? { self[.organizationalUnitName] }
    public var commonName: String? { self[.commonName] }
    public var emailAddress: String? { self[.emailAddress] }

    // MARK: - Encodings

    /// `X509_NAME_hash`: the first four bytes of SHA-1 over the canonical encoding, little-endian; the value
    /// `openssl x509 -subject_hash` prints and `c_rehash` names files after (`CN=foo` is 3737812659).
    public func hash() throws -> Int {
        OpenSSLErrorQueue.clear()
        var ok: Int32 = 0
        let value = X509_NAME_hash_ex(pointer, nil, nil, &ok)
        guard ok == 1 else { throw CryptoError.fromQueue() }
        return Int(value)
    }

    /// The DER encoding (`i2d_X509_NAME`).
    public func der() throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        var out: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509_NAME(pointer, &out)
        guard length >= 0, let out else { throw CryptoError.fromQueue() }
        defer { portcullis_OPENSSL_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }

    /// Every entry in order as (short name, raw string bytes). The bytes are the ASN.1 string contents as
    /// stored (not re-encoded), so embedded NULs are kept. Entries with an OID OpenSSL has no name for are
    /// reported under their dotted OID.
    public func getComponents() -> [(name: [UInt8], value: [UInt8])] {
        let name = pointer
        var result: [(name: [UInt8], value: [UInt8])] = []
        let count = X509_NAME_entry_count(name)
        guard count > 0 else { return result }
        result.reserveCapacity(Int(count))
        for index in 0..<count {
            guard let entry = X509_NAME_get_entry(name, index) else { continue }
            let object = X509_NAME_ENTRY_get_object(entry)
            let key = Self.shortName(of: object)
            var value: [UInt8] = []
            if let data = X509_NAME_ENTRY_get_data(entry), let bytes = ASN1_STRING_get0_data(data) {
                value = Array(UnsafeBufferPointer(start: bytes, count: Int(ASN1_STRING_length(data))))
            }
            result.append((name: key, value: value))
        }
        return result
    }

    /// The short name of an ASN.1 object, or its dotted OID when OpenSSL has no name for it.
    static func shortName(of object: OpaquePointer?) -> [UInt8] {
        let nid = OBJ_obj2nid(object)
        if nid != NID_undef, let sn = OBJ_nid2sn(nid) {
            return Array(String(cString: sn).utf8)
        }
        var buffer = [CChar](repeating: 0, count: 128)
        let length = OBJ_obj2txt(&buffer, Int32(buffer.count), object, 1)
        guard length > 0 else { return Array("UNDEF".utf8) }
        return buffer.prefix(min(Int(length), buffer.count - 1)).map { UInt8(bitPattern: $0) }
    }

    /// `X509_NAME_oneline` form, e.g. `/C=US/CN=foo` (truncated by OpenSSL at 512 bytes, as in pyOpenSSL).
    public var oneline: String {
        var buffer = [CChar](repeating: 0, count: 512)
        guard X509_NAME_oneline(pointer, &buffer, Int32(buffer.count)) != nil else {
            OpenSSLErrorQueue.clear()
            return ""
        }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// pyOpenSSL's `repr`: `<X509Name object '/C=US/CN=foo'>`.
    public var description: String { "<X509Name object '\(oneline)'>" }
}

extension X509Name: Comparable {
    /// Equal when `X509_NAME_cmp` says so (canonical encodings match: case and internal whitespace of string
    /// values are ignored, as OpenSSL's chain building does).
    public static func == (lhs: X509Name, rhs: X509Name) -> Bool {
        X509_NAME_cmp(lhs.pointer, rhs.pointer) == 0
    }

    /// OpenSSL's ordering of names (`X509_NAME_cmp`).
    public static func < (lhs: X509Name, rhs: X509Name) -> Bool {
        X509_NAME_cmp(lhs.pointer, rhs.pointer) < 0
    }
}
