import Foundation
import OpenSSLCrypto
import OpenSSLSSL
import Testing
@testable import PortcullisCore

/// A strict reader of the text format: every sample's family was declared with HELP and TYPE before it,
/// and every line is either a comment or `name{labels} value`.
struct ParsedExposition {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var types: [String: String] = [:]
    var helps: [String: String] = [:]
    var samples: [Sample] = []

    init(_ text: String) throws {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { continue }
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                let name = String(rest.prefix { $0 != " " })
                helps[name] = String(rest.dropFirst(name.count + 1))
                continue
            }
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                try #require(parts.count == 2, "bad TYPE line: \(line)")
                try #require(helps[String(parts[0])] != nil, "TYPE before HELP: \(line)")
                try #require(types[String(parts[0])] == nil, "family declared twice: \(line)")
                types[String(parts[0])] = String(parts[1])
                continue
            }
            try #require(!line.hasPrefix("#"), "unexpected comment: \(line)")
            var name = ""
            var labels: [String: String] = [:]
            var index = line.startIndex
            while index < line.endIndex, line[index] != "{", line[index] != " " {
                name.append(line[index]); index = line.index(after: index)
            }
            if index < line.endIndex, line[index] == "{" {
                index = line.index(after: index)
                while line[index] != "}" {
                    var key = ""
                    while line[index] != "=" { key.append(line[index]); index = line.index(after: index) }
                    index = line.index(after: index)
                    try #require(line[index] == "\"", "label value not quoted: \(line)")
                    index = line.index(after: index)
                    var value = ""
                    while line[index] != "\"" {
                        if line[index] == "\\" {
                            index = line.index(after: index)
                            value.append(line[index] == "n" ? "\n" : line[index])
                        } else {
                            value.append(line[index])
                        }
                        index = line.index(after: index)
                    }
                    labels[key] = value
                    index = line.index(after: index)
                    if line[index] == "," { index = line.index(after: index) }
                }
                index = line.index(after: index)
            }
            try #require(line[index] == " ", "no space before the value: \(line)")
            let valueText = String(line[line.index(after: index)...])
            let value = valueText == "+Inf" ? Double.infinity : Double(valueText)
            let parsed = try #require(value, "bad value in: \(line)")
            let family = types[name] != nil ? name
                : ["_bucket", "_sum", "_count"].compactMap { name.hasSuffix($0) ? String(name.dropLast($0.count)) : nil }.first ?? name
            try #require(types[family] != nil, "sample of an undeclared family: \(line)")
            samples.append(Sample(name: name, labels: labels, value: parsed))
        }
    }

    /// The value of the one sample named `name` whose labels include `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matches = samples.filter { sample in
            sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value }
        }
        return matches.count == 1 ? matches[0].value : nil
    }
}

@Suite struct MetricsExpositionTests {
    @Test func labelValuesAndHelpAreEscaped() {
        #expect(PrometheusTextWriter.escapeLabelValue(#"a\b"c"# + "\nd") == #"a\\b\"c\nd"#)
        #expect(PrometheusTextWriter.escapeHelp(#"back\slash "quote""# + "\nline") == #"back\\slash "quote"\nline"#)
        var writer = PrometheusTextWriter()
        writer.family("x_total", .counter, help: "Help.")
        writer.sample("x_total", ["subject": "/CN=\"quoted\"\\"], 3)
        #expect(writer.text == "# HELP x_total Help.\n# TYPE x_total counter\nx_total{subject=\"/CN=\\\"quoted\\\"\\\\\"} 3\n")
    }

    @Test func numbersUseTheFormatsSpelling() {
        #expect(PrometheusTextWriter.format(3) == "3")
        #expect(PrometheusTextWriter.format(0.0025) == "0.0025")
        #expect(PrometheusTextWriter.format(1735689600) == "1735689600")
        #expect(PrometheusTextWriter.format(.infinity) == "+Inf")
        #expect(PrometheusTextWriter.format(-.infinity) == "-Inf")
        #expect(PrometheusTextWriter.format(.nan) == "NaN")
        #expect(Double(PrometheusTextWriter.format(1e-05)) == 1e-05)
    }

    @Test func histogramBucketsAreCumulativeAndEndInInf() throws {
        var writer = PrometheusTextWriter()
        writer.family("h_seconds", .histogram, help: "H.")
        writer.histogram("h_seconds", upperBounds: [0.1, 1], counts: [2, 0, 5], sum: 12.5)
        let parsed = try ParsedExposition(writer.text)
        #expect(parsed.value("h_seconds_bucket", ["le": "0.1"]) == 2)
        #expect(parsed.value("h_seconds_bucket", ["le": "1"]) == 2)
        #expect(parsed.value("h_seconds_bucket", ["le": "+Inf"]) == 7)
        #expect(parsed.value("h_seconds_count") == 7)
        #expect(parsed.value("h_seconds_sum") == 12.5)
    }

    @Test func bucketIndexIsTheFirstBoundNotExceeded() {
        #expect(HandshakeDurationBuckets.index(nanoseconds: 0) == 0)
        #expect(HandshakeDurationBuckets.index(nanoseconds: 500_000) == 0)
        #expect(HandshakeDurationBuckets.index(nanoseconds: 500_001) == 1)
        #expect(HandshakeDurationBuckets.index(nanoseconds: 10_000_000_000) == HandshakeDurationBuckets.upperBounds.count - 1)
        #expect(HandshakeDurationBuckets.index(nanoseconds: 10_000_000_001) == HandshakeDurationBuckets.upperBounds.count)
    }

    @Test func theScrapeSumsEveryWorkersCounters() throws {
        let metrics = ProxyMetrics(workers: 2)
        let first = try #require(metrics.attachWorker(0) {})
        let second = try #require(metrics.attachWorker(1) {})
        for worker in [first, second] {
            worker.connectionAccepted()
            worker.handshakeCompleted(nanoseconds: 2_000_000)
            let host = worker.hostAdmitted("www", resumed: worker === second)
            host.bytesIn.add(100)
            host.bytesOut.add(1000)
            worker.backendConnectFailed(host: "www", backend: "127.0.0.1:9")
        }
        first.connectionAccepted()
        first.connectionRefused()
        second.connectionAccepted()
        second.clientRedirected(host: "www")
        let parsed = try ParsedExposition(metrics.renderText())
        #expect(parsed.value("portcullis_clients_redirected_total", ["host": "www"]) == 1)
        #expect(parsed.value("portcullis_handshakes_total", ["result": "failed", "reason": "policy"]) == 1)
        #expect(parsed.value("portcullis_client_verify_failures_total", ["host": "www", "reason": "allow_list"]) == 1)
        #expect(parsed.value("portcullis_connections_accepted_total") == 4)
        #expect(parsed.value("portcullis_connections_refused_total") == 1)
        #expect(parsed.value("portcullis_connections_active") == 4)
        #expect(parsed.value("portcullis_connections_total", ["host": "www"]) == 2)
        #expect(parsed.value("portcullis_connections_open", ["host": "www"]) == 2)
        #expect(parsed.value("portcullis_resumptions_total", ["host": "www"]) == 1)
        #expect(parsed.value("portcullis_bytes_in_total", ["host": "www"]) == 200)
        #expect(parsed.value("portcullis_bytes_out_total", ["host": "www"]) == 2000)
        #expect(parsed.value("portcullis_handshakes_total", ["result": "ok", "reason": "full"]) == 1)
        #expect(parsed.value("portcullis_handshakes_total", ["result": "ok", "reason": "resumed"]) == 1)
        #expect(parsed.value("portcullis_handshake_duration_seconds_bucket", ["le": "0.0025"]) == 2)
        #expect(parsed.value("portcullis_handshake_duration_seconds_bucket", ["le": "0.001"]) == 0)
        #expect(parsed.value("portcullis_handshake_duration_seconds_sum") == 0.004)
        #expect(parsed.value("portcullis_backend_connect_failures_total", ["host": "www", "backend": "127.0.0.1:9"]) == 2)
        #expect(parsed.value("portcullis_workers") == 2)
        #expect(parsed.types["portcullis_handshake_duration_seconds"] == "histogram")
        #expect(parsed.types["portcullis_connections_open"] == "gauge")
        for (name, type) in parsed.types where type == "counter" { #expect(name.hasSuffix("_total"), "\(name)") }
    }

    @Test func reloadsAndCertificatesAreExposed() throws {
        let metrics = ProxyMetrics(workers: 1)
        metrics.noteReload(succeeded: true, router: nil)
        metrics.noteReload(succeeded: false, router: nil)
        metrics.noteReload(succeeded: false, router: nil)
        let parsed = try ParsedExposition(metrics.renderText())
        #expect(parsed.value("portcullis_reloads_total", ["result": "ok"]) == 1)
        #expect(parsed.value("portcullis_reloads_total", ["result": "failed"]) == 2)
        #expect(parsed.value("portcullis_build_info", ["version": PortcullisVersion.string]) == 1)
    }

    @Test func generalizedTimeBecomesUnixTime() {
        #expect(CertificateExpiry.unixTime(generalizedTime: "19700101000000Z") == 0)
        #expect(CertificateExpiry.unixTime(generalizedTime: "20250101000000Z") == 1_735_689_600)
        #expect(CertificateExpiry.unixTime(generalizedTime: "20240229235959Z") == 1_709_251_199)
        #expect(CertificateExpiry.unixTime(generalizedTime: "20500101000000Z") == 2_524_608_000)
        #expect(CertificateExpiry.unixTime(generalizedTime: "2025010100000Z") == nil)
        #expect(CertificateExpiry.unixTime(generalizedTime: "20251301000000Z") == nil)
        #expect(CertificateExpiry.unixTime(generalizedTime: "20250101000000+0100") == nil)
    }

    @Test func handshakeFailuresAreClassifiedFromOpenSSLReasons() {
        func failure(_ reason: String) -> SSLError {
            .openSSL([OpenSSLErrorEntry(library: "SSL routines", function: "", reason: reason)])
        }
        #expect(HandshakeFailureReason.classify(failure("no shared cipher"), verifyResult: 0) == .noSharedCipher)
        #expect(HandshakeFailureReason.classify(failure("unsupported protocol"), verifyResult: 0) == .protocolVersion)
        #expect(HandshakeFailureReason.classify(failure("http request"), verifyResult: 0) == .notTLS)
        #expect(HandshakeFailureReason.classify(failure("tlsv1 alert unknown ca"), verifyResult: 0) == .alert)
        #expect(HandshakeFailureReason.classify(failure("peer did not return a certificate"), verifyResult: 0) == .clientCertificate)
        #expect(HandshakeFailureReason.classify(failure("certificate verify failed"), verifyResult: 10) == .clientCertificate)
        #expect(HandshakeFailureReason.classify(failure("no application protocol"), verifyResult: 0) == .noApplicationProtocol)
        #expect(HandshakeFailureReason.classify(failure("something new"), verifyResult: 0) == .other)
        #expect(HandshakeFailureReason.classify(SSLError.unexpectedEOF, verifyResult: 0) == .clientClosed)
        #expect(HandshakeFailureReason.classify(HostSelectionError.unrecognizedName("x", listener: "l"), verifyResult: 0) == .unrecognizedName)
        #expect(VerifyCodeName.name(10) == "X509_V_ERR_CERT_HAS_EXPIRED")
        #expect(VerifyCodeName.name(23) == "X509_V_ERR_CERT_REVOKED")
        #expect(VerifyCodeName.name(20) == "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY")
        #expect(VerifyCodeName.name(9999) == "X509_V_ERR_9999")
    }

    @Test func everyCloseReasonHasItsCode() {
        let reasons: [CloseReason] = [
            .completed, .handshakeFailed("x"), .handshakeTimeout, .clientClosedDuringHandshake, .noHost, .policyDenied("x"),
            .backendUnavailable("x"), .clientReset("x"), .clientTruncated, .backendReset("x"), .tlsError("x"), .idleTimeout,
            .drainDeadline, .internalError("x"), .proxyHeaderInvalid("x"), .proxySourceDenied("x"), .clientGone,
            .clientLimit("x", maximum: 1),
        ]
        for reason in reasons { #expect(WorkerMetrics.closeCodes[WorkerMetrics.closeIndex(reason)] == reason.code) }
        #expect(Set(WorkerMetrics.closeCodes).count == reasons.count)
    }
}
