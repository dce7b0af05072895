internal import Glibc

/// The file reads and writes of Portcullis (configuration, keys, certificates, CRLs, ticket keys, the files
/// `portcullis cert` writes), with plain POSIX calls: the proxy does not link Foundation's file APIs (and
/// with them ICU), and every error carries the `errno` text an operator can act on.
///
/// Callers wrap a `LocalFile.Failure` into their own error, naming what the file was for.
package enum LocalFile {
    /// A failed system call on a file: which one and why.
    package struct Failure: Error, Sendable, CustomStringConvertible {
        /// The `errno` value (0 for a limit of ours, such as the size cap).
        package let code: Int32
        /// `strerror(code)`, or our own reason.
        package let reason: String

        init(code: Int32) {
            self.code = code
            self.reason = String(cString: strerror(code))
        }

        init(reason: String) {
            self.code = 0
            self.reason = reason
        }

        package var description: String { reason }
        package var alreadyExists: Bool { code == EEXIST }
    }

    /// The most `read` accepts: no file Portcullis reads is anywhere near it, and a mistake such as pointing
    /// `cert_file` at a disk image must not exhaust memory.
    package static let readLimit = 16 << 20

    /// The whole file. Follows symlinks (certificates are commonly symlinked, e.g. by certbot).
    package static func read(_ path: String) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(code: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(code: errno)
            }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
            if bytes.count > readLimit { throw Failure(reason: "larger than \(readLimit >> 20) MiB") }
        }
    }

    /// Creates `path` with `mode` (`O_CREAT | O_EXCL | O_NOFOLLOW`: the mode holds from the first moment, and
    /// an existing file, or a symlink planted in its place, is never written through), writes `bytes` and
    /// syncs them. A file that could not be written completely is removed.
    package static func createNew(_ path: String, bytes: [UInt8], mode: UInt32) throws(Failure) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(mode))
        guard fd >= 0 else { throw Failure(code: errno) }
        var failure: Failure?
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                failure = Failure(code: errno)
                break
            }
            offset += written
        }
        if failure == nil, fsync(fd) != 0 { failure = Failure(code: errno) }
        close(fd)
        if let failure {
            unlink(path)
            throw failure
        }
    }

    /// Removes `path`; a file that does not exist is not an error.
    package static func removeIfPresent(_ path: String) throws(Failure) {
        if unlink(path) != 0, errno != ENOENT { throw Failure(code: errno) }
    }

    /// The names in directory `path` (without `.` and `..`), sorted bytewise so that the order is stable.
    package static func directoryEntries(_ path: String) throws(Failure) -> [String] {
        guard let directory = opendir(path) else { throw Failure(code: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// Permission bits and owning group of a file.
    package struct Ownership: Sendable, Equatable {
        package var mode: UInt32
        package var group: UInt32
    }

    /// The permission bits and group of `path` (following symlinks), or nil when it cannot be examined.
    package static func ownership(_ path: String) -> Ownership? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Ownership(mode: UInt32(info.st_mode) & 0o7777, group: UInt32(info.st_gid))
    }

    /// True when `path` exists (any kind of file; symlinks followed).
    package static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Creates `path` and its missing parents with mode 0755 (`mkdir -p`).
    package static func makeDirectories(_ path: String) throws(Failure) {
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            partial += "/" + component
            if mkdir(partial, 0o755) != 0, errno != EEXIST { throw Failure(code: errno) }
        }
    }

    /// The groups this process belongs to: its effective group and its supplementary groups.
    package static func processGroups() -> Set<UInt32> {
        var groups: Set<UInt32> = [UInt32(getegid())]
        let count = getgroups(0, nil)
        if count > 0 {
            var list = [gid_t](repeating: 0, count: Int(count))
            let filled = getgroups(count, &list)
            if filled > 0 { groups.formUnion(list.prefix(Int(filled)).map { UInt32($0) }) }
        }
        return groups
    }
}
