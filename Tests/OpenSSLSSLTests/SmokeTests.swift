import Testing
@testable import OpenSSLCrypto
@Test func emptyCertificateCanBeCreated() throws { _ = try X509() }
