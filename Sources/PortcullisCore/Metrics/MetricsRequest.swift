/// The HTTP/1.1 request head the metrics endpoint understands, and the response it gets. Only the request
/// line matters (`GET /metrics HTTP/1.1`); headers are read to find the end of the head and otherwise
/// ignored, and a body is never read (the endpoint answers GET and HEAD only, and closes after each
/// response).
enum MetricsRequest {
    /// The most a request head may take, request line and headers; more is answered with 431.
    static let maximumHeadBytes = 8192

    /// An HTTP response, ready to send.
    struct Response: Equatable {
        var status: Int
        var reason: String
        var contentType = "text/plain; charset=utf-8"
        var body: [UInt8]
        var extraHeaders: [(String, String)] = []
        /// HEAD: the headers of the GET response, no body.
        var omitBody = false

        static func == (lhs: Response, rhs: Response) -> Bool {
            lhs.status == rhs.status && lhs.body == rhs.body && lhs.contentType == rhs.contentType
        }

        static func text(_ status: Int, _ reason: String, _ body: String) -> Response {
            Response(status: status, reason: reason, body: Array(body.utf8))
        }

        /// The bytes on the wire: status line, headers, blank line, body. Always `Connection: close`.
        var bytes: [UInt8] {
            var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
            head += "Cache-Control: no-store\r\nConnection: close\r\n"
            for (name, value) in extraHeaders { head += "\(name): \(value)\r\n" }
            head += "\r\n"
            return Array(head.utf8) + (omitBody ? [] : body)
        }
    }

    /// What a received prefix of the request holds.
    enum Parse: Equatable {
        /// The head is not complete yet: read more.
        case incomplete
        /// A complete head with this method and path (query string removed).
        case request(method: String, path: String)
        /// Not HTTP, or too large: answer this and close.
        case invalid(Response)
    }

    /// Looks at the bytes received so far.
    static func parse(_ bytes: [UInt8]) -> Parse {
        guard let end = headEnd(bytes) else {
            if bytes.count >= maximumHeadBytes {
                return .invalid(.text(431, "Request Header Fields Too Large", "request head larger than \(maximumHeadBytes) bytes\n"))
            }
            return .incomplete
        }
        var line = bytes[..<(bytes.firstIndex(of: UInt8(ascii: "\n")) ?? end)]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        let requestLine = String(decoding: line, as: UTF8.self)
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[1].hasPrefix("/"),
              parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0" else {
            return .invalid(.text(400, "Bad Request", "expected a request line such as: GET /metrics HTTP/1.1\n"))
        }
        let target = parts[1]
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        return .request(method: String(parts[0]), path: String(path))
    }

    /// The response for a parsed request. `metrics` renders `/metrics`; `health` answers `/healthz`.
    static func respond(method: String, path: String, metrics: () -> String, health: () -> ProxyHealth) -> Response {
        guard path == "/metrics" || path == "/healthz" else {
            return .text(404, "Not Found", "not found; try /metrics or /healthz\n")
        }
        guard method == "GET" || method == "HEAD" else {
            var response = Response.text(405, "Method Not Allowed", "only GET and HEAD\n")
            response.extraHeaders = [("Allow", "GET, HEAD")]
            return response
        }
        var response: Response
        if path == "/metrics" {
            response = Response(status: 200, reason: "OK", contentType: PrometheusTextWriter.contentType, body: Array(metrics().utf8))
        } else {
            switch health() {
            case .serving:
                response = .text(200, "OK", "ok\n")
            case .draining:
                response = .text(503, "Service Unavailable", "draining: not accepting new connections\n")
            case .unresponsive:
                response = .text(503, "Service Unavailable", "not ready: a worker event loop is not running or did not answer\n")
            }
        }
        response.omitBody = method == "HEAD"
        return response
    }

    /// The index just past the blank line ending the head (`\r\n\r\n`, or a bare `\n\n`), if received.
    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") { return index + 2 }
                if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\r"), bytes[index + 2] == UInt8(ascii: "\n") {
                    return index + 3
                }
            }
            index += 1
        }
        return nil
    }
}
