import Testing
@testable import OpenSSLSSL

/// Raw values pinned against OpenSSL 3.0.22's headers and pyOpenSSL's TestConstants.
@Suite struct ConstantsTests {
    @Test func verifyModes() {
        #expect(SSL.VERIFY_NONE == 0 && SSL.VERIFY_PEER == 1 && SSL.VERIFY_FAIL_IF_NO_PEER_CERT == 2)
        #expect(SSL.VERIFY_CLIENT_ONCE == 4 && SSL.VERIFY_POST_HANDSHAKE == 8)
    }

    @Test func versions() {
        #expect(SSL.SSL3_VERSION == 0x300 && SSL.TLS1_VERSION == 0x301 && SSL.TLS1_1_VERSION == 0x302)
        #expect(SSL.TLS1_2_VERSION == 0x303 && SSL.TLS1_3_VERSION == 0x304)
        #expect(SSL.DTLS1_VERSION == 0xFEFF && SSL.DTLS1_2_VERSION == 0xFEFD)
    }

    @Test func protocolOptions() {
        #expect(SSL.OP_NO_SSLv2 == 0)
        #expect(SSL.OP_NO_SSLv3 == 0x200_0000)
        #expect(SSL.OP_NO_TLSv1 == 0x400_0000)
        #expect(SSL.OP_NO_TLSv1_1 == 0x1000_0000)
        #expect(SSL.OP_NO_TLSv1_2 == 0x800_0000)
        #expect(SSL.OP_NO_TLSv1_3 == 0x2000_0000)
    }

    @Test func otherOptions() {
        // The four pyOpenSSL pins its TestConstants on.
        #expect(SSL.OP_NO_QUERY_MTU == 0x1000)
        #expect(SSL.OP_COOKIE_EXCHANGE == 0x2000)
        #expect(SSL.OP_NO_TICKET == 0x4000)
        #expect(SSL.OP_NO_COMPRESSION == 0x20000)
        #expect(SSL.OP_ALL == 0x8000_0850)
        #expect(SSL.OP_CIPHER_SERVER_PREFERENCE == 0x40_0000)
        #expect(SSL.OP_NO_RENEGOTIATION == 0x4000_0000)
        #expect(SSL.OP_IGNORE_UNEXPECTED_EOF == 0x80)
        #expect(SSL.OP_LEGACY_SERVER_CONNECT == 0x4)
        #expect(SSL.OP_DONT_INSERT_EMPTY_FRAGMENTS == 0x800)
        #expect(SSL.OP_TLS_ROLLBACK_BUG == 0x80_0000)
        #expect(SSL.OP_ENABLE_KTLS == 0x8)
        #expect(SSL.OP_ALLOW_CLIENT_RENEGOTIATION == 0x100)
        #expect(SSL.OP_SINGLE_DH_USE == 0 && SSL.OP_NETSCAPE_CA_DN_BUG == 0 && SSL.OP_PKCS1_CHECK_2 == 0)
    }

    @Test func modes() {
        #expect(SSL.MODE_ENABLE_PARTIAL_WRITE == 1 && SSL.MODE_ACCEPT_MOVING_WRITE_BUFFER == 2)
        #expect(SSL.MODE_AUTO_RETRY == 4 && SSL.MODE_RELEASE_BUFFERS == 0x10)
    }

    @Test func sessionCacheModes() {
        #expect(SSL.SESS_CACHE_OFF == 0x0)
        #expect(SSL.SESS_CACHE_CLIENT == 0x1)
        #expect(SSL.SESS_CACHE_SERVER == 0x2)
        #expect(SSL.SESS_CACHE_BOTH == 0x3)
        #expect(SSL.SESS_CACHE_NO_AUTO_CLEAR == 0x80)
        #expect(SSL.SESS_CACHE_NO_INTERNAL_LOOKUP == 0x100)
        #expect(SSL.SESS_CACHE_NO_INTERNAL_STORE == 0x200)
        #expect(SSL.SESS_CACHE_NO_INTERNAL == 0x300)
    }

    @Test func infoCallbackBits() {
        #expect(SSL.SSL_ST_CONNECT == 0x1000 && SSL.SSL_ST_ACCEPT == 0x2000 && SSL.SSL_ST_MASK == 0xfff)
        #expect(SSL.SSL_CB_LOOP == 0x1 && SSL.SSL_CB_EXIT == 0x2 && SSL.SSL_CB_READ == 0x4 && SSL.SSL_CB_WRITE == 0x8)
        #expect(SSL.SSL_CB_ALERT == 0x4000 && SSL.SSL_CB_READ_ALERT == 0x4004 && SSL.SSL_CB_WRITE_ALERT == 0x4008)
        #expect(SSL.SSL_CB_ACCEPT_LOOP == 0x2001 && SSL.SSL_CB_ACCEPT_EXIT == 0x2002)
        #expect(SSL.SSL_CB_CONNECT_LOOP == 0x1001 && SSL.SSL_CB_CONNECT_EXIT == 0x1002)
        #expect(SSL.SSL_CB_HANDSHAKE_START == 0x10 && SSL.SSL_CB_HANDSHAKE_DONE == 0x20)
    }

    @Test func shutdownBits() {
        #expect(SSL.SENT_SHUTDOWN == 1 && SSL.RECEIVED_SHUTDOWN == 2)
    }

    @Test func methods() {
        #expect(SSL.Method.allCases.map(\.rawValue) == Array(3...12))
        #expect(SSL.TLS_METHOD == .tls && SSL.TLS_SERVER_METHOD.rawValue == 8 && SSL.TLS_CLIENT_METHOD.rawValue == 9)
        #expect(SSL.TLSv1_2_METHOD.rawValue == 6 && SSL.DTLS_METHOD.rawValue == 10)
    }

    @Test func alpnSentinel() {
        #expect(SSL.NO_OVERLAPPING_PROTOCOLS == .noOverlap)
    }

    @Test func openSSLVersionNumber() {
        // 3.0.x: major 3, minor 0 in the 0xMNN00PP0 layout.
        #expect(SSL.OPENSSL_VERSION_NUMBER >> 20 == 0x300)
    }

    @Test func openSSLVersionStrings() {
        let selectors = [SSL.OPENSSL_VERSION, SSL.OPENSSL_CFLAGS, SSL.OPENSSL_PLATFORM, SSL.OPENSSL_DIR, SSL.OPENSSL_BUILT_ON]
        #expect(selectors == [0, 1, 3, 4, 2])
        let strings = selectors.map { SSL.openSSLVersion($0) }
        #expect(Set(strings).count == 5)
        #expect(strings.allSatisfy { !$0.isEmpty })
        #expect(String(decoding: strings[0], as: UTF8.self).hasPrefix("OpenSSL 3.0"))
        #expect(String(decoding: strings[3], as: UTF8.self).hasPrefix("OPENSSLDIR:"))
    }
}

@Suite struct ConstantsVerificationCodeTests {
    @Test func codes() {
        #expect(X509VerificationCodes.OK.rawValue == 0)
        #expect(X509VerificationCodes.ERR_CERT_HAS_EXPIRED.rawValue == 10)
        #expect(X509VerificationCodes.ERR_DEPTH_ZERO_SELF_SIGNED_CERT.rawValue == 18)
        #expect(X509VerificationCodes.ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY.rawValue == 20)
        #expect(X509VerificationCodes.ERR_APPLICATION_VERIFICATION.rawValue == 50)
        #expect(X509VerificationCodes.ERR_HOSTNAME_MISMATCH.rawValue == 62)
        #expect(X509VerificationCodes(rawValue: 10).message == "certificate has expired")
    }
}

@Suite struct ConstantsFileTypeTests {
    @Test func reExportedFileTypes() {
        #expect(SSL.FILETYPE_PEM.rawValue == 1 && SSL.FILETYPE_ASN1.rawValue == 2)
    }
}
