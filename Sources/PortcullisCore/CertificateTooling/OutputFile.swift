internal import Glibc

/// Writes the files `portcullis cert` produces. The mode is given to `open(2)` together with `O_CREAT |
/// O_EXCL`, so a private key is never readable by others, not even for the moment between creating the
/// file and a later `chmod`, and an existing file (or a symlink planted in its place) is never written
/// through: it is refused unless `overwrite`, which removes it first.
public enum OutputFile {
    /// Mode for private keys and PKCS#12 bundles.
    public static let privateMode: UInt32 = 0o600
    /// Mode for certificates, CSRs and CA certificates.
    public static let publicMode: UInt32 = 0o644

    public static func write(_ bytes: [UInt8], to path: String, mode: UInt32, overwrite: Bool = false) throws {
        if overwrite, unlink(path) != 0, errno != ENOENT {
            throw CertificateToolError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(mode))
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST {
                throw CertificateToolError("\(path) already exists; remove it or pass --force to replace it")
            }
            throw CertificateToolError("cannot create \(path): \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw CertificateToolError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        guard fsync(fd) == 0 else {
            throw CertificateToolError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The file's bytes, with an error that names it.
    public static func read(_ path: String, what: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CertificateToolError("cannot read \(what) \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CertificateToolError("cannot read \(what) \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
            if bytes.count > 16 << 20 { throw CertificateToolError("\(path) is larger than 16 MiB; not a \(what)") }
        }
        return bytes
    }
}
