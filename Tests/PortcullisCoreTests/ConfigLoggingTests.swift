import Foundation
import Logging
import Testing
@testable import PortcullisCore

@Suite struct ConfigLoggingTests {
    func record() -> ConnectionRecord {
        var record = ConnectionRecord(acceptedAt: 1_700_000_000, clientAddress: "127.0.0.1:5000", listener: "https", closeReason: "client_close")
        record.serverName = "www.example.com"
        record.host = "www"
        record.tlsVersion = "TLSv1.3"
        record.cipher = "TLS_AES_128_GCM_SHA256"
        record.sessionReused = true
        record.clientSubject = "CN=billing,OU=ops"
        record.clientVerify = "ok"
        record.backend = "127.0.0.1:8080"
        record.bytesFromClient = 517
        record.bytesToClient = 8211
        record.handshakeDuration = .microseconds(2143)
        record.totalDuration = .milliseconds(15)
        return record
    }

    func temporaryFile() -> String { NSTemporaryDirectory() + "portcullis-log-\(UUID().uuidString).log" }

    @Test func accessLogTextLine() throws {
        let line = AccessLogWriter(output: .stdout, format: .text).line(for: record())
        let fields = line.split(separator: " ").dropFirst().joined(separator: " ")
        #expect(fields == "client=127.0.0.1:5000 via=- listener=https sni=www.example.com host=www tls=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 alpn=- resumed=true client_subject=\"CN=billing,OU=ops\" client_verify=ok backend=127.0.0.1:8080 bytes_in=517 bytes_out=8211 handshake_ms=2.143 duration_ms=15.000 close=client_close")
    }

    @Test func accessLogJSONLineIsValidJSON() throws {
        var failed = record()
        failed.closeReason = "handshake_failed"
        failed.error = "unrecognized SNI name \"x\"\n"
        failed.handshakeDuration = nil
        let line = AccessLogWriter(output: .stdout, format: .json).line(for: failed)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["close"] as? String == "handshake_failed")
        #expect(object["error"] as? String == "unrecognized SNI name \"x\"\n")
        #expect(object["bytes_in"] as? Int == 517)
        #expect(object["resumed"] as? Bool == true)
        #expect(object["handshake_ms"] is NSNull)
        #expect(object["alpn"] is NSNull)
    }

    @Test func operationalLogToAFileInBothFormats() throws {
        let path = temporaryFile()
        let configuration = ProxyConfiguration(logLevel: .notice, logFormat: .json, logDestination: .file(path), accessLog: .file(path + ".access"))
        let setup = try LoggingSetup(configuration: configuration)
        let logger = setup.logger(label: "portcullis")
        logger.info("not shown")
        logger.warning("key \"readable\"", metadata: ["file": "/k.pem"])
        setup.accessLog?.write(record())
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(object["level"] as? String == "warning")
        #expect(object["msg"] as? String == "key \"readable\"")
        #expect(object["file"] as? String == "/k.pem")
        #expect(object["logger"] as? String == "portcullis")
        #expect(try String(contentsOfFile: path + ".access", encoding: .utf8).contains("\"client\":\"127.0.0.1:5000\""))

        let textLine = PortcullisLogHandler.format(level: .error, label: "p", message: "m", metadata: ["b": "two words", "a": "x"], format: .text)
        #expect(textLine.hasSuffix(" error p: m a=x b=\"two words\""))
    }

    @Test func theJournalStreamIsRecognisedByDeviceAndInode() throws {
        let path = temporaryFile()
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        defer { close(fd); unlink(path) }
        var info = stat()
        try #require(fstat(fd, &info) == 0)
        #expect(LogOutput.isJournalStream(fd, journalStream: "\(info.st_dev):\(info.st_ino)"))
        #expect(!LogOutput.isJournalStream(fd, journalStream: "\(info.st_dev):\(info.st_ino + 1)"))
        #expect(!LogOutput.isJournalStream(fd, journalStream: nil))
        #expect(!LogOutput.isJournalStream(fd, journalStream: "garbage"))
        #expect(PortcullisLogHandler.syslogPriority(.warning) == 4)
        #expect(PortcullisLogHandler.syslogPriority(.critical) == 2)
        #expect(PortcullisLogHandler.format(level: .info, label: "portcullis", message: "m", metadata: [:], format: .text,
                                            timestamped: false) == "info portcullis: m")
    }

    @Test func accessLogOffHasNoWriter() throws {
        let setup = try LoggingSetup(configuration: ProxyConfiguration(accessLog: .off))
        #expect(setup.accessLog == nil)
    }

    @Test func unopenableLogFileIsAnError() {
        #expect(throws: LogOutputError.self) { try LoggingSetup(configuration: ProxyConfiguration(logDestination: .file("/nonexistent/dir/x.log"))) }
    }
}
