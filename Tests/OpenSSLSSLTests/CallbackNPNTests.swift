import Testing
@testable import OpenSSLSSL

/// NPN is deprecated API; the scenario lives behind a protocol so calling it does not warn here.
private protocol NPNScenario {
    func run(select: @escaping Context.NPNSelectCallback, advertise: @escaping Context.NPNAdvertiseCallback) throws -> (client: [UInt8], server: [UInt8])
}

private struct DeprecatedNPN: NPNScenario {
    @available(*, deprecated)
    func run(select: @escaping Context.NPNSelectCallback, advertise: @escaping Context.NPNAdvertiseCallback) throws -> (client: [UInt8], server: [UInt8]) {
        let pki = try TestPKI.shared()
        // NPN exists only up to TLS 1.2.
        let serverContext = try pki.makeServerContext(maxVersion: SSL.TLS1_2_VERSION)
        try serverContext.setNPNAdvertiseCallback(advertise)
        let clientContext = try pki.makeClientContext()
        try clientContext.setNPNSelectCallback(select)
        let client = try Connection(context: clientContext)
        let server = try Connection(context: serverContext)
        try handshake(client: client, server: server)
        return (client.getNextProtoNegotiated(), server.getNextProtoNegotiated())
    }
}

@Suite struct CallbackNPNTests {
    private let scenario: any NPNScenario = DeprecatedNPN()

    @Test func success() throws {
        let offered = Recorder<[[UInt8]]>()
        let result = try scenario.run(select: { _, protocols in offered.append(protocols); return Array("spdy/2".utf8) },
                                      advertise: { _ in [Array("http/1.1".utf8), Array("spdy/2".utf8)] })
        #expect(offered.values == [[Array("http/1.1".utf8), Array("spdy/2".utf8)]])
        #expect(result.client == Array("spdy/2".utf8) && result.server == Array("spdy/2".utf8))
    }

    @Test func selectErrorIsRethrown() {
        #expect(throws: CallbackMarker("npn select")) {
            try scenario.run(select: { _, _ in throw CallbackMarker("npn select") }, advertise: { _ in [Array("h".utf8)] })
        }
    }

    @Test func advertiseErrorIsRethrown() {
        #expect(throws: CallbackMarker("npn advertise")) {
            try scenario.run(select: { _, _ in Array("h".utf8) }, advertise: { _ in throw CallbackMarker("npn advertise") })
        }
    }

    @Test func emptySelectionFails() {
        #expect(throws: SSLError.self) {
            try scenario.run(select: { _, _ in [] }, advertise: { _ in [Array("h".utf8)] })
        }
    }
}
