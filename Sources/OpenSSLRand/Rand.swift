internal import COpenSSL
internal import OpenSSLCrypto

/// pyOpenSSL's `OpenSSL.rand` module: OpenSSL's process-wide random generator.
///
/// pyOpenSSL deprecates this whole module ("use os.urandom"). New Swift code should use
/// `SystemRandomNumberGenerator` (getrandom(2)) or `Rand.bytes`; the rest exists for parity. On OpenSSL 3.0
/// the DRBG seeds itself from the operating system, so `add`/`seed` only mix in extra input (useful at most
/// after `fork`), `status()` is 1 on a normal system, and `cleanup()` has nothing to do.
public enum Rand {
    /// Mixes `buffer` into the generator (`rand.add`, `RAND_add`). `entropy` is the caller's estimate, in
    /// bytes, of the randomness in `buffer`; OpenSSL 3.0 treats the data as additional input.
    public static func add(_ buffer: some Collection<UInt8>, entropy: Double) {
        let bytes = Array(buffer)
        bytes.withUnsafeBytes { RAND_add($0.baseAddress, Int32(clamping: $0.count), entropy) }
    }

    /// Mixes `buffer` into the generator, counting all of it as entropy (`rand.seed`, `RAND_seed`).
    public static func seed(_ buffer: some Collection<UInt8>) {
        let bytes = Array(buffer)
        bytes.withUnsafeBytes { RAND_seed($0.baseAddress, Int32(clamping: $0.count)) }
    }

    /// 1 when the generator is seeded, else 0 (`rand.status`, `RAND_status`).
    public static func status() -> Int {
        Int(RAND_status())
    }

    /// `count` cryptographically strong random bytes (`rand.bytes`, `RAND_bytes`); `[]` for 0. A negative
    /// count is `.invalidArgument`; a generator failure `.openSSL` with the drained queue.
    public static func bytes(_ count: Int) throws(RandError) -> [UInt8] {
        guard count >= 0 else { throw RandError.invalidArgument("num_bytes must not be negative") }
        guard count > 0 else { return [] }
        guard count <= Int(Int32.max) else { throw RandError.invalidArgument("num_bytes must fit in 32 bits") }
        OpenSSLErrorQueue.clear()
        var output = [UInt8](repeating: 0, count: count)
        let ok = output.withUnsafeMutableBytes { RAND_bytes($0.baseAddress, Int32(count)) }
        guard ok == 1 else { throw RandError.fromQueue() }
        return output
    }

    /// Nothing to do (`rand.cleanup`): `RAND_cleanup` is a no-op since OpenSSL 1.1.0, which frees the
    /// generator itself at process exit. Kept so ported code compiles.
    public static func cleanup() {}

    /// Mixes up to `maxBytes` bytes of the file at `path` into the generator (`rand.load_file`,
    /// `RAND_load_file`); -1 reads the whole file. Returns the number of bytes read, or -1 when the file
    /// cannot be read (as pyOpenSSL: no error is thrown, and the OpenSSL error queue is left empty).
    public static func loadFile(_ path: String, maxBytes: Int = -1) -> Int {
        OpenSSLErrorQueue.clear()
        let result = RAND_load_file(path, maxBytes)
        if result < 0 { OpenSSLErrorQueue.clear() }
        return Int(result)
    }

    /// Writes 1024 random bytes to `path` for a later `loadFile` (`rand.write_file`, `RAND_write_file`) and
    /// returns the number written. A file that cannot be written (or a generator that is not seeded) is
    /// `.openSSL` with the drained queue rather than pyOpenSSL's silent -1.
    public static func writeFile(_ path: String) throws(RandError) -> Int {
        OpenSSLErrorQueue.clear()
        let result = RAND_write_file(path)
        guard result >= 0 else { throw RandError.fromQueue() }
        return Int(result)
    }

    /// Always `.unsupported` (`rand.egd`): Debian's OpenSSL 3.0 is built with `OPENSSL_NO_EGD`, so the
    /// Entropy Gathering Daemon functions (`RAND_egd_bytes`) do not exist. The kernel already seeds OpenSSL.
    public static func egd(path: String, bytes: Int = 255) throws(RandError) -> Int {
        throw RandError.unsupported(
            "EGD is not supported: OpenSSL 3.0 is built with OPENSSL_NO_EGD (no RAND_egd_bytes); "
                + "the generator seeds itself from the kernel, use Rand.bytes or SystemRandomNumberGenerator")
    }

    /// Always `.unsupported` (`rand.screen`): `RAND_screen` mixed the Windows screen contents into the
    /// generator; it never existed outside Windows and was removed in OpenSSL 1.1.0.
    public static func screen() throws(RandError) {
        throw RandError.unsupported(
            "RAND_screen is Windows-only and was removed in OpenSSL 1.1.0; it does not exist in OpenSSL 3.0 on Linux")
    }
}
