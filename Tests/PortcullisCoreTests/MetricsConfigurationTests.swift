import Testing
@testable import PortcullisCore

@Suite struct MetricsConfigurationTests {
    private let base = """
        [[listener]]
        listen = "127.0.0.1:8443"
        [[host]]
        name = "a"
        certificate = "a.pem"
        backend = "127.0.0.1:8080"

        """

    private func parse(_ global: String) throws(ConfigurationError) -> ProxyConfiguration {
        try ConfigurationLoader.parse("[global]\n\(global)\n" + base, file: "test.toml", baseDirectory: "/etc/portcullis")
    }

    @Test func metricsAreOffByDefaultAndTakeANumericAddress() throws {
        #expect(try parse("").metricsListen == nil)
        #expect(try parse("metrics_listen = \"127.0.0.1:9090\"").metricsListen == ListenAddress(host: "127.0.0.1", port: 9090, family: .ipv4))
        #expect(try parse("metrics_listen = \"[::1]:9090\"").metricsListen?.family == .ipv6)
    }

    @Test func aBadMetricsAddressIsNamedWithItsLine() {
        #expect {
            try parse("metrics_listen = \"metrics.internal:9090\"")
        } throws: { error in
            let text = "\(error)"
            return text.contains("test.toml:2") && text.contains("global.metrics_listen") && text.contains("metrics.internal:9090")
        }
    }

    @Test func theMetricsAddressCannotAlsoBeAListener() {
        #expect {
            try parse("metrics_listen = \"127.0.0.1:8443\"")
        } throws: { error in
            "\(error)".contains("listener[0].listen") && "\(error)".contains("metrics_listen")
        }
    }
}
