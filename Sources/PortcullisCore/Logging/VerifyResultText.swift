/// Text for X509_V_* verification results, as `openssl verify` prints them (the common ones; others show
/// their number).
public enum VerifyResultText {
    public static func describe(_ code: Int) -> String {
        switch code {
        case 0: return "ok"
        case 2: return "unable to get issuer certificate"
        case 3: return "unable to get certificate CRL"
        case 4: return "unable to decrypt certificate's signature"
        case 7: return "certificate signature failure"
        case 8: return "CRL signature failure"
        case 9: return "certificate is not yet valid"
        case 10: return "certificate has expired"
        case 11: return "CRL is not yet valid"
        case 12: return "CRL has expired"
        case 18: return "self-signed certificate"
        case 19: return "self-signed certificate in certificate chain"
        case 20: return "unable to get local issuer certificate"
        case 21: return "unable to verify the first certificate"
        case 22: return "certificate chain too long"
        case 23: return "certificate revoked"
        case 24: return "invalid CA certificate"
        case 26: return "unsupported certificate purpose"
        case 27: return "certificate not trusted"
        case 28: return "certificate rejected"
        default: return "verify error \(code)"
        }
    }
}
