internal import Glibc

/// Unbuffered writes to stdout and stderr for what `print` does not cover: error messages (stderr) and
/// raw bytes such as a PEM written to stdout. Retries short writes and EINTR; a closed stream is ignored,
/// as a command's exit code already tells the failure.
enum StandardStream {
    case output, error

    private var descriptor: Int32 { self == .output ? STDOUT_FILENO : STDERR_FILENO }

    func write(_ text: String) {
        write(Array(text.utf8))
    }

    func write(_ bytes: [UInt8]) {
        if self == .output { fflush(nil) }   // keep order with earlier print()s (all C streams)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
    }
}
