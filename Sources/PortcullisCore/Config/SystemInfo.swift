#if canImport(Glibc)
internal import Glibc
#endif

/// Facts about the machine the configuration defaults depend on.
enum SystemInfo {
    /// Online processors (`sysconf(_SC_NPROCESSORS_ONLN)`), 1 if unknown.
    static var onlineCores: Int {
        let count = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return count > 0 ? count : 1
    }
}
