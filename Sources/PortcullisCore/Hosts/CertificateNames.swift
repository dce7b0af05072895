import OpenSSLCrypto

/// Extracts the allow-list names (subject CN and OU, subjectAltName DNS and URI) from a certificate's DER.
///
/// A strict DER walk rather than the text form: `X509_print` does not escape separators, so a CN such as
/// `"x, OU=admins"` would read as an OU. Only called on certificates OpenSSL has already verified.
enum CertificateNames {
    struct Malformed: Error {}

    static func identity(of certificate: X509) throws -> ClientIdentity {
        try identity(der: Crypto.dumpCertificate(.asn1, certificate))
    }

    static func identity(der: [UInt8]) throws -> ClientIdentity {
        var reader = DERReader(der[...])
        var certificate = try reader.enter(tag: 0x30)
        var tbs = try certificate.enter(tag: 0x30)
        if tbs.peekTag() == 0xA0 { _ = try tbs.read() }  // [0] version
        _ = try tbs.read()  // serialNumber
        _ = try tbs.read()  // signature algorithm
        _ = try tbs.read()  // issuer
        _ = try tbs.read()  // validity
        var identity = ClientIdentity()
        var subject = try tbs.enter(tag: 0x30)
        while !subject.isAtEnd {
            var set = try subject.enter(tag: 0x31)
            while !set.isAtEnd {
                var attribute = try set.enter(tag: 0x30)
                let oid = try attribute.read()
                let value = try attribute.read()
                guard oid.tag == 0x06 else { throw Malformed() }
                if oid.content.elementsEqual(commonNameOID) {
                    identity.commonNames.append(try string(value))
                } else if oid.content.elementsEqual(organizationalUnitOID) {
                    identity.organizationalUnits.append(try string(value))
                }
            }
        }
        _ = try tbs.read()  // subjectPublicKeyInfo
        while !tbs.isAtEnd {
            let element = try tbs.read()
            guard element.tag == 0xA3 else { continue }  // [1]/[2] unique IDs are skipped
            var explicit = DERReader(element.content)
            var extensions = try explicit.enter(tag: 0x30)
            while !extensions.isAtEnd {
                var ext = try extensions.enter(tag: 0x30)
                let oid = try ext.read()
                var value = try ext.read()
                if value.tag == 0x01 { value = try ext.read() }  // critical flag
                guard oid.tag == 0x06, value.tag == 0x04, oid.content.elementsEqual(subjectAltNameOID) else { continue }
                var octets = DERReader(value.content)
                var names = try octets.enter(tag: 0x30)
                while !names.isAtEnd {
                    let name = try names.read()
                    switch name.tag {
                    case 0x82: identity.dnsNames.append(String(decoding: name.content, as: UTF8.self))
                    case 0x86: identity.uris.append(String(decoding: name.content, as: UTF8.self))
                    default: break
                    }
                }
            }
        }
        return identity
    }

    private static let commonNameOID: [UInt8] = [0x55, 0x04, 0x03]
    private static let organizationalUnitOID: [UInt8] = [0x55, 0x04, 0x0B]
    private static let subjectAltNameOID: [UInt8] = [0x55, 0x1D, 0x11]

    /// DirectoryString and IA5String values as text.
    private static func string(_ element: DERReader.Element) throws -> String {
        switch element.tag {
        case 0x0C, 0x13, 0x16, 0x14, 0x1A: return String(decoding: element.content, as: UTF8.self)
        case 0x1E:  // BMPString: UTF-16BE
            let bytes = Array(element.content)
            guard bytes.count % 2 == 0 else { throw Malformed() }
            let units = stride(from: 0, to: bytes.count, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
            return String(decoding: units, as: UTF16.self)
        case 0x1C:  // UniversalString: UTF-32BE
            let bytes = Array(element.content)
            guard bytes.count % 4 == 0 else { throw Malformed() }
            var text = ""
            for index in stride(from: 0, to: bytes.count, by: 4) {
                let value = UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16 | UInt32(bytes[index + 2]) << 8 | UInt32(bytes[index + 3])
                guard let scalar = Unicode.Scalar(value) else { throw Malformed() }
                text.unicodeScalars.append(scalar)
            }
            return text
        default: throw Malformed()
        }
    }
}

/// A minimal DER reader: definite lengths, single-byte tags.
struct DERReader {
    struct Element {
        let tag: UInt8
        let content: ArraySlice<UInt8>
    }

    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var isAtEnd: Bool { bytes.isEmpty }

    func peekTag() -> UInt8? { bytes.first }

    mutating func read() throws -> Element {
        guard bytes.count >= 2 else { throw CertificateNames.Malformed() }
        let tag = bytes[bytes.startIndex]
        guard tag & 0x1F != 0x1F else { throw CertificateNames.Malformed() }  // multi-byte tags: not in X.509 names
        var index = bytes.startIndex + 1
        var length = Int(bytes[index])
        index += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 4, index + count <= bytes.endIndex else { throw CertificateNames.Malformed() }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[index])
                index += 1
            }
        }
        guard length >= 0, index + length <= bytes.endIndex else { throw CertificateNames.Malformed() }
        let element = Element(tag: tag, content: bytes[index..<index + length])
        bytes = bytes[(index + length)...]
        return element
    }

    /// Reads an element with `tag` and returns a reader over its content.
    mutating func enter(tag: UInt8) throws -> DERReader {
        let element = try read()
        guard element.tag == tag else { throw CertificateNames.Malformed() }
        return DERReader(element.content)
    }
}
