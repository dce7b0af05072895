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
        if overwrite {
            do { try LocalFile.removeIfPresent(path) } catch {
                throw CertificateToolError("cannot replace \(path): \(error)")
            }
        }
        do {
            try LocalFile.createNew(path, bytes: bytes, mode: mode)
        } catch where error.alreadyExists {
            throw CertificateToolError("\(path) already exists; remove it or pass --force to replace it")
        } catch {
            throw CertificateToolError("cannot write \(path): \(error)")
        }
    }

    /// The file's bytes, with an error that names it.
    public static func read(_ path: String, what: String) throws -> [UInt8] {
        do {
            return try LocalFile.read(path)
        } catch {
            throw CertificateToolError("cannot read \(what) \(path): \(error)")
        }
    }
}
