internal import COpenSSL

/// One of OpenSSL's builtin elliptic curves (pyOpenSSL's `_EllipticCurve`), named by its OpenSSL short name.
///
/// Equal and hashed by NID, so the same curve looked up twice is the same value.
public struct EllipticCurve: Hashable, Sendable, CustomStringConvertible {
    /// The OpenSSL short name, for example `"prime256v1"` or `"secp384r1"`.
    public let name: String
    /// The OpenSSL NID of the curve.
    public let nid: Int32

    package init(nid: Int32) {
        self.nid = nid
        self.name = OBJ_nid2sn(nid).map { String(cString: $0) } ?? "NID \(nid)"
    }

    /// `<Curve 'prime256v1'>`, as pyOpenSSL's `repr`.
    public var description: String { "<Curve '\(name)'>" }

    public static func == (lhs: EllipticCurve, rhs: EllipticCurve) -> Bool { lhs.nid == rhs.nid }
    public func hash(into hasher: inout Hasher) { hasher.combine(nid) }
}

extension Crypto {
    /// Every builtin curve of this OpenSSL (`crypto.get_elliptic_curves`, `EC_get_builtin_curves`).
    public static func ellipticCurves() -> Set<EllipticCurve> {
        let count = EC_get_builtin_curves(nil, 0)
        guard count > 0 else { return [] }
        var curves = [EC_builtin_curve](repeating: EC_builtin_curve(), count: count)
        let filled = curves.withUnsafeMutableBufferPointer { EC_get_builtin_curves($0.baseAddress, count) }
        return Set(curves.prefix(filled).map { EllipticCurve(nid: $0.nid) })
    }

    /// The builtin curve with OpenSSL short name `name` (`crypto.get_elliptic_curve`); an unknown name is
    /// `.invalidArgument("unknown curve name ...")`.
    public static func ellipticCurve(named name: String) throws -> EllipticCurve {
        if let curve = ellipticCurves().first(where: { $0.name == name }) { return curve }
        throw CryptoError.invalidArgument("unknown curve name: \(name)")
    }
}
