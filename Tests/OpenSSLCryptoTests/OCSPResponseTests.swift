import Foundation
import Testing
@testable import OpenSSLCrypto

/// `OCSPResponse` against real responses from `openssl ocsp` (an `index.txt` CA database in a temp dir).
@Suite struct OCSPResponseTests {
    /// A CA with a good, a revoked and an unlisted leaf, a delegated responder (id-kp-OCSPSigning), a
    /// certificate of the same CA without that usage, and an unrelated CA. Built once per process.
    final class Fixture: @unchecked Sendable {
        static let shared = Result { try Fixture() }

        let directory: TemporaryDirectory
        /// 2023-11-01T00:00:00Z, the revocation time written into index.txt.
        static let revokedAt: Int64 = 1_698_796_800

        init() throws {
            directory = try TemporaryDirectory()
            try makeCA("ca", subject: "/CN=OCSP Test CA")
            try makeCA("other-ca", subject: "/CN=Unrelated CA")
            try issue("good", ca: "ca", extensions: "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
            try issue("revoked", ca: "ca", extensions: "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
            try issue("unlisted", ca: "ca", extensions: "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
            try issue("responder", ca: "ca", extensions: "basicConstraints=CA:FALSE\nextendedKeyUsage=OCSPSigning\n")
            try issue("not-responder", ca: "ca", extensions: "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
            let index = try [("V", "good", ""), ("R", "revoked", "231101000000Z,keyCompromise")].map { status, name, revocation in
                "\(status)\t301231235959Z\t\(revocation)\t\(try serial(name))\tunknown\t/CN=\(name)\n"
            }.joined()
            try directory.write("index.txt", Array(index.utf8))
        }

        func path(_ name: String) -> String { directory.path(name) }
        func certificate(_ name: String) throws -> X509 { try Crypto.loadCertificate(.pem, try directory.read("\(name).pem")) }

        private func makeCA(_ name: String, subject: String) throws {
            try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", "\(name).key", "-out", "\(name).pem", "-days", "30", "-subj", subject,
                         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                        in: directory)
        }

        private func issue(_ name: String, ca: String, extensions: String) throws {
            try directory.write("\(name).ext", Array(extensions.utf8))
            try openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name)"], in: directory)
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key", "-CAcreateserial",
                         "-out", "\(name).pem", "-days", "30", "-extfile", "\(name).ext"], in: directory)
        }

        private func serial(_ name: String) throws -> String {
            let text = try openssl(["x509", "-in", "\(name).pem", "-noout", "-serial"], in: directory).text
            return String(text.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst("serial=".count))
        }

        /// `openssl ocsp` asked about `name` and answered by `signer` (the CA itself by default), as DER.
        func response(for name: String, signer: String = "ca", digest: String? = nil, extra: [String] = []) throws -> [UInt8] {
            let tag = UUID().uuidString
            // A digest option applies to the -cert options after it.
            try openssl(["ocsp", "-issuer", "ca.pem"] + (digest.map { ["-\($0)"] } ?? [])
                        + ["-cert", "\(name).pem", "-reqout", "\(tag).req", "-no_nonce"], in: directory)
            try openssl(["ocsp", "-index", "index.txt", "-rsigner", "\(signer).pem", "-rkey", "\(signer).key", "-CA", "ca.pem",
                         "-reqin", "\(tag).req", "-respout", "\(tag).der", "-ndays", "1"] + extra, in: directory)
            return try directory.read("\(tag).der")
        }

        /// A store trusting exactly `name`.
        func store(trusting name: String) throws -> X509Store {
            let store = try X509Store()
            try store.addCert(try certificate(name))
            try store.setFlags(.PARTIAL_CHAIN)
            return store
        }
    }

    private var fixture: Fixture { get throws { try Fixture.shared.get() } }

    @Test func goodResponseHasItsStatusAndTimes() throws {
        let fixture = try fixture
        let der = try fixture.response(for: "good")
        let before = Int64(Date().timeIntervalSince1970)
        let response = try OCSPResponse(der: der)
        #expect(response.responseStatus == .successful)
        #expect(response.derBytes == der)
        let single = try #require(try response.singleResponse(for: try fixture.certificate("good"), issuer: try fixture.certificate("ca")))
        #expect(single.status == .good)
        // `openssl ocsp` sets thisUpdate to the signing time and nextUpdate one day (-ndays 1) later.
        #expect(abs(single.thisUpdate - before) <= 120, "thisUpdate \(single.thisUpdate), now \(before)")
        #expect(single.nextUpdate == single.thisUpdate + 86_400)
        #expect(try response.checkValidity(for: try fixture.certificate("good"), issuer: try fixture.certificate("ca")))
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func revokedResponseCarriesTimeAndReason() throws {
        let fixture = try fixture
        let response = try OCSPResponse(der: try fixture.response(for: "revoked"))
        let single = try #require(try response.singleResponse(for: try fixture.certificate("revoked"), issuer: try fixture.certificate("ca")))
        #expect(single.status == .revoked(time: Fixture.revokedAt, reason: .keyCompromise))
        #expect(single.status.description == "revoked (keyCompromise)")
    }

    @Test func certificateMissingFromTheDatabaseIsUnknown() throws {
        let fixture = try fixture
        let response = try OCSPResponse(der: try fixture.response(for: "unlisted"))
        let single = try #require(try response.singleResponse(for: try fixture.certificate("unlisted"), issuer: try fixture.certificate("ca")))
        #expect(single.status == .unknown)
    }

    @Test func responseForAnotherCertificateHasNoEntry() throws {
        let fixture = try fixture
        let response = try OCSPResponse(der: try fixture.response(for: "good"))
        #expect(try response.singleResponse(for: try fixture.certificate("revoked"), issuer: try fixture.certificate("ca")) == nil)
        #expect(try !response.checkValidity(for: try fixture.certificate("revoked"), issuer: try fixture.certificate("ca")))
        // The right certificate with the wrong issuer is another certificate ID too.
        #expect(try response.singleResponse(for: try fixture.certificate("good"), issuer: try fixture.certificate("other-ca")) == nil)
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func sha256CertificateIDsAreFound() throws {
        let fixture = try fixture
        let response = try OCSPResponse(der: try fixture.response(for: "good", digest: "sha256"))
        let single = try response.singleResponse(for: try fixture.certificate("good"), issuer: try fixture.certificate("ca"))
        #expect(single?.status == .good)
    }

    @Test func signatureVerifiesAgainstTheIssuer() throws {
        let fixture = try fixture
        let response = try OCSPResponse(der: try fixture.response(for: "good"))
        try response.verify(store: try fixture.store(trusting: "ca"))
        // The signer is found among `untrusted` when the response leaves it out.
        let bare = try OCSPResponse(der: try fixture.response(for: "good", extra: ["-resp_no_certs"]))
        try bare.verify(store: try fixture.store(trusting: "ca"), untrusted: [try fixture.certificate("ca")])
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func verifyAgainstTheWrongIssuerFailsWithTheQueueDrained() throws {
        let fixture = try fixture
        let response = try OCSPResponse(der: try fixture.response(for: "good"))
        let error = expectThrowsCleanly { try response.verify(store: try fixture.store(trusting: "other-ca")) }
        let entries = (error as? CryptoError)?.entries ?? []
        #expect(!entries.isEmpty, "\(String(describing: error))")
        #expect(entries.contains { $0.reason.contains("certificate verify error") || $0.library.contains("OCSP") }, "\(entries)")
        // Without the signer anywhere, OpenSSL cannot even find it.
        let bare = try OCSPResponse(der: try fixture.response(for: "good", extra: ["-resp_no_certs"]))
        let missing = expectThrowsCleanly { try bare.verify(store: try fixture.store(trusting: "ca")) }
        #expect(((missing as? CryptoError)?.entries ?? []).contains { $0.reason == "signer certificate not found" }, "\(String(describing: missing))")
    }

    @Test func delegatedResponderVerifiesOnlyWithOCSPSigning() throws {
        let fixture = try fixture
        let delegated = try OCSPResponse(der: try fixture.response(for: "good", signer: "responder"))
        try delegated.verify(store: try fixture.store(trusting: "ca"))
        let impostor = try OCSPResponse(der: try fixture.response(for: "good", signer: "not-responder"))
        let error = expectThrowsCleanly { try impostor.verify(store: try fixture.store(trusting: "ca")) }
        #expect(((error as? CryptoError)?.entries ?? []).isEmpty == false, "\(String(describing: error))")
    }

    @Test func unsuccessfulResponseHasNoCertificateStatus() throws {
        let fixture = try fixture
        // responseStatus = unauthorized (6), no body.
        let response = try OCSPResponse(der: [0x30, 0x03, 0x0a, 0x01, 0x06])
        #expect(response.responseStatus == .unauthorized)
        #expect(response.responseStatus.description == "unauthorized")
        let error = expectThrowsCleanly { try response.singleResponse(for: try fixture.certificate("good"), issuer: try fixture.certificate("ca")) }
        #expect(isInvalidArgument(error))
        #expect("\(error!)".contains("unauthorized"))
        #expect(isInvalidArgument(expectThrowsCleanly { try response.verify(store: try fixture.store(trusting: "ca")) }))
        #expect(try OCSPResponse(der: [0x30, 0x03, 0x0a, 0x01, 0x03]).responseStatus == .tryLater)
    }

    @Test func garbageIsAClearError() throws {
        let garbage = expectThrowsCleanly { try OCSPResponse(der: Array("not an OCSP response".utf8)) }
        #expect(isOpenSSLError(garbage), "\(String(describing: garbage))")
        #expect(!((garbage as? CryptoError)?.entries.isEmpty ?? true))
        #expect(isInvalidArgument(expectThrowsCleanly { try OCSPResponse(der: []) }))
        // A PEM certificate is not a DER OCSP response either.
        let pem = try Fixture.shared.get().directory.read("ca.pem")
        #expect(isOpenSSLError(expectThrowsCleanly { try OCSPResponse(der: pem) }))
        let trailing = expectThrowsCleanly { try OCSPResponse(der: [0x30, 0x03, 0x0a, 0x01, 0x06, 0x00]) }
        #expect(isInvalidArgument(trailing) && "\(trailing!)".contains("1 bytes after"), "\(String(describing: trailing))")
    }
}
