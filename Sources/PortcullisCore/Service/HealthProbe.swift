internal import CPortcullisSystem
internal import Glibc

/// `portcullis health`: asks a running proxy's metrics endpoint for `GET /healthz`, for container
/// `HEALTHCHECK`s and scripts on hosts without curl. Healthy means HTTP 200; anything else (503 while
/// draining or when a worker loop is stuck, a refused connection, a timeout) is unhealthy, with a reason.
public enum HealthProbe {
    /// What the probe found.
    public struct Result: Sendable, Equatable, CustomStringConvertible {
        public var healthy: Bool
        /// `200 ok`, `503 draining: not accepting new connections`, `cannot connect to ...: Connection refused`.
        public var detail: String
        public var description: String { (healthy ? "healthy: " : "unhealthy: ") + detail }
    }

    /// The address to probe for a configuration's `metrics_listen`: a wildcard address (`0.0.0.0`, `[::]`)
    /// is probed on the loopback address of its family. Nil when the configuration has no metrics endpoint.
    public static func address(for configuration: ProxyConfiguration) -> ListenAddress? {
        guard var address = configuration.metricsListen else { return nil }
        if address.host == "0.0.0.0" { address.host = "127.0.0.1" }
        if address.host == "::" { address.host = "::1" }
        return address
    }

    /// Sends `GET /healthz` to `address` and reads the status line, all within `timeout` (milliseconds).
    public static func probe(_ address: ListenAddress, timeoutMilliseconds: Int32 = 3000) -> Result {
        let deadline = MonotonicClock.now() &+ UInt64(max(1, timeoutMilliseconds)) * 1_000_000
        func remaining() -> Int32 {
            let now = MonotonicClock.now()
            return now >= deadline ? 0 : Int32(clamping: (deadline - now + 999_999) / 1_000_000)
        }
        func failure(_ what: String, _ reason: String? = nil) -> Result {
            Result(healthy: false, detail: "\(what) \(address)" + (reason.map { ": \($0)" } ?? ""))
        }
        guard let socketAddress = SocketAddress(numericHost: address.host, port: address.port) else {
            return failure("not a numeric address:")
        }
        let fd = portcullis_socket_stream(socketAddress.domain)
        guard fd >= 0 else { return failure("cannot create a socket for") }
        defer { close(fd) }

        // Connect (non-blocking, bounded by the deadline).
        if socketAddress.withSockaddr({ connect(fd, $0, $1) }) != 0 {
            guard errno == EINPROGRESS else { return failure("cannot connect to", errnoText()) }
            guard wait(fd, for: Int16(POLLOUT), milliseconds: remaining()) else { return failure("timed out connecting to") }
            let code = portcullis_socket_error(fd)
            if code != 0 { return failure("cannot connect to", String(cString: strerror(code))) }
        }

        // Send the request.
        let request = Array("GET /healthz HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let count = request.withUnsafeBytes { portcullis_send(fd, $0.baseAddress! + sent, UInt($0.count - sent)) }
            if count > 0 { sent += count; continue }
            if count < 0, errno == EAGAIN || errno == EINTR {
                guard wait(fd, for: Int16(POLLOUT), milliseconds: remaining()) else { return failure("timed out sending to") }
                continue
            }
            return failure("cannot send to", errnoText())
        }

        // Read the whole response (the endpoint closes after it).
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while response.count < 65536 {
            let count = chunk.withUnsafeMutableBytes { portcullis_recv(fd, $0.baseAddress, UInt($0.count)) }
            if count > 0 { response += chunk[0..<count]; continue }
            if count == 0 { break }
            if errno == EAGAIN || errno == EINTR {
                guard wait(fd, for: Int16(POLLIN), milliseconds: remaining()) else { return failure("timed out waiting for") }
                continue
            }
            return failure("cannot read from", errnoText())
        }
        return interpret(response, from: address)
    }

    /// The result for a complete HTTP response.
    static func interpret(_ response: [UInt8], from address: ListenAddress) -> Result {
        let text = String(decoding: response, as: UTF8.self)
        let statusLine = text.prefix { $0 != "\r" && $0 != "\n" }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            return Result(healthy: false, detail: "\(address) did not answer HTTP: \(statusLine.prefix(80))")
        }
        var body = ""
        if let range = text.range(of: "\r\n\r\n") {
            body = String(text[range.upperBound...]).trimmingSuffixNewlines()
        }
        return Result(healthy: status == 200, detail: "\(status) \(body.isEmpty ? String(parts.count > 2 ? parts[2] : "") : body)")
    }

    private static func wait(_ fd: Int32, for events: Int16, milliseconds: Int32) -> Bool {
        guard milliseconds > 0 else { return false }
        var descriptor = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0, errno == EINTR { continue }
            return ready > 0
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

private extension String {
    func trimmingSuffixNewlines() -> String {
        var text = self
        while let last = text.last, last == "\n" || last == "\r" { text.removeLast() }
        return text
    }
}
