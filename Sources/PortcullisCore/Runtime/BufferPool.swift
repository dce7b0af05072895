internal import Glibc

/// A worker's free list of page-aligned I/O buffers, all `BufferPool.bufferSize` bytes.
///
/// Buffers are page-aligned because glibc's `memcpy` (which OpenSSL uses to move records in and out) runs
/// up to 30 times slower when source and destination are a few bytes apart modulo 4 KiB. Connections take a
/// buffer when they have bytes to hold and give it back as soon as it is empty, so an idle connection holds
/// none and the steady state allocates nothing. Confined to one worker thread: no lock.
final class BufferPool {
    /// One TLS record's maximum plaintext (16 KiB): a full buffer becomes one full record, and one
    /// `SSL_read` fills at most one buffer.
    static let bufferSize = 16 * 1024
    /// Page alignment.
    static let alignment = 4096

    private var free: [UnsafeMutableRawPointer] = []
    /// Free buffers kept for reuse (1024 = 16 MiB per worker by default); beyond this, returned buffers go
    /// back to the allocator, so a burst does not pin its peak memory forever.
    let maximumCached: Int
    /// Buffers handed out and not returned yet (for tests and metrics).
    private(set) var outstanding = 0
    /// Buffers ever allocated from the system by this pool.
    private(set) var allocations = 0

    init(maximumCached: Int = 1024) {
        self.maximumCached = maximumCached
        free.reserveCapacity(min(maximumCached, 1024))
    }

    deinit {
        for buffer in free { Glibc.free(buffer) }
    }

    /// A buffer of `bufferSize` bytes, page-aligned, contents undefined. Nil only when memory is exhausted.
    @inline(__always)
    func take() -> UnsafeMutableRawPointer? {
        if let buffer = free.popLast() {
            outstanding += 1
            return buffer
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, Self.alignment, Self.bufferSize) == 0, let raw else { return nil }
        allocations += 1
        outstanding += 1
        return raw
    }

    /// Returns a buffer obtained from `take()`.
    @inline(__always)
    func give(_ buffer: UnsafeMutableRawPointer) {
        outstanding -= 1
        if free.count < maximumCached {
            free.append(buffer)
        } else {
            Glibc.free(buffer)
        }
    }

    /// Free buffers cached right now.
    var cachedCount: Int { free.count }
}
