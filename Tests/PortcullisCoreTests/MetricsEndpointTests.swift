import Foundation
import Glibc
import Logging
import Synchronization
import Testing
@testable import PortcullisCore

@Suite struct MetricsEndpointTests {
    @Test func requestLinesAreParsed() {
        #expect(MetricsRequest.parse(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n".utf8)) == .incomplete)
        #expect(MetricsRequest.parse(Array("GET /metrics?name[]=x HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                == .request(method: "GET", path: "/metrics"))
        #expect(MetricsRequest.parse(Array("HEAD /healthz HTTP/1.0\n\n".utf8)) == .request(method: "HEAD", path: "/healthz"))
        guard case .invalid(let bad) = MetricsRequest.parse(Array("hello\r\n\r\n".utf8)) else {
            Issue.record("not HTTP must be invalid"); return
        }
        #expect(bad.status == 400)
        guard case .invalid(let large) = MetricsRequest.parse(Array(repeating: UInt8(ascii: "a"), count: MetricsRequest.maximumHeadBytes)) else {
            Issue.record("an oversized head must be refused"); return
        }
        #expect(large.status == 431)
    }

    @Test func routesAnswerAsDocumented() {
        func respond(_ method: String, _ path: String, health: ProxyHealth = .serving) -> MetricsRequest.Response {
            MetricsRequest.respond(method: method, path: path, metrics: { "m 1\n" }, health: { health })
        }
        #expect(respond("GET", "/metrics").status == 200)
        #expect(respond("GET", "/metrics").contentType == "text/plain; version=0.0.4; charset=utf-8")
        #expect(respond("GET", "/healthz").body == Array("ok\n".utf8))
        #expect(respond("GET", "/healthz", health: .unresponsive).status == 503)
        #expect(respond("GET", "/healthz", health: .draining).status == 503)
        #expect(respond("GET", "/healthz", health: .draining).body == Array("draining: not accepting new connections\n".utf8))
        #expect(respond("GET", "/").status == 404)
        #expect(respond("POST", "/metrics").status == 405)
        let head = respond("HEAD", "/metrics")
        #expect(head.status == 200)
        let text = String(decoding: head.bytes, as: UTF8.self)
        #expect(text.hasSuffix("\r\n\r\n") && text.contains("Content-Length: 4\r\n"))
    }

    @Test func healthIsFalseUntilEveryWorkerAnswers() throws {
        let metrics = ProxyMetrics(workers: 2)
        #expect(!metrics.workersAlive(timeout: .milliseconds(50)), "no worker started yet")
        let stuck = Mutex(false)
        for index in 0..<2 {
            let worker = metrics.workerMetrics[index]
            // Answers from another thread, as a worker's loop does after its eventfd fires; worker 1 can hang.
            _ = try #require(metrics.attachWorker(index) {
                if index == 0 || !stuck.withLock({ $0 }) { DispatchQueue.global().async { worker.answerPings() } }
            })
        }
        #expect(metrics.workersAlive(timeout: .seconds(2)))
        stuck.withLock { $0 = true }
        #expect(!metrics.workersAlive(timeout: .milliseconds(100)), "a worker that never answers is not alive")
    }

    @Test func theEndpointServesOverTCP() throws {
        let metrics = ProxyMetrics(workers: 1)
        let worker = try #require(metrics.attachWorker(0) {})
        worker.connectionAccepted()
        _ = metrics.attachWorker(0) { DispatchQueue.global().async { worker.answerPings() } }
        let endpoint = try MetricsEndpoint(
            listen: ListenAddress(host: "127.0.0.1", port: 0, family: .ipv4), metrics: metrics, logger: Logger(label: "test"))
        try endpoint.start()
        defer { endpoint.stop() }
        let port = try #require(endpoint.address.port)
        let scrape = try httpGet(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(scrape.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(scrape.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        let body = String(scrape[scrape.range(of: "\r\n\r\n")!.upperBound...])
        #expect(try ParsedExposition(body).value("portcullis_connections_accepted_total") == 1)
        #expect(try httpGet(port: port, "GET /healthz HTTP/1.1\r\n\r\n").hasSuffix("\r\n\r\nok\n"))
        #expect(try httpGet(port: port, "GET /nope HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404 "))
        #expect(try httpGet(port: port, "DELETE /metrics HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 405 "))
        #expect(try httpGet(port: port, "garbage\r\n\r\n").hasPrefix("HTTP/1.1 400 "))
        let huge = "GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n"
        #expect(try httpGet(port: port, huge).hasPrefix("HTTP/1.1 431 "))
    }

    @Test func aSilentClientIsDroppedAtTheTimeoutAndOthersAreServed() throws {
        let metrics = ProxyMetrics(workers: 1)
        let endpoint = try MetricsEndpoint(
            listen: ListenAddress(host: "127.0.0.1", port: 0, family: .ipv4), metrics: metrics, logger: Logger(label: "test"))
        try endpoint.start()
        defer { endpoint.stop() }
        let port = try #require(endpoint.address.port)
        let silent = try connect(port: port)
        defer { close(silent) }
        let started = Date()
        #expect(try httpGet(port: port, "GET /metrics HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 200 "))
        #expect(Date().timeIntervalSince(started) < 2, "a silent client must not block the others")
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(silent, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        #expect(recv(silent, &byte, 1, 0) == 0, "the endpoint closes a client that sends nothing")
        #expect(Date().timeIntervalSince(started) >= 4.5)
    }
}

private func connect(port: UInt16) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(result == 0, "connect: \(errno)")
    return fd
}

/// Sends `request` and reads the response to EOF.
private func httpGet(port: UInt16, _ request: String) throws -> String {
    let fd = try connect(port: port)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let bytes = Array(request.utf8)
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        response += chunk[0..<count]
    }
    return String(decoding: response, as: UTF8.self)
}
