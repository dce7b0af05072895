/// One direction's buffer of a proxied connection: bytes read from one side that the other side has not
/// taken yet. Linear (not a ring): bytes are appended at `tail` and consumed from `head`; when it empties it
/// resets to 0 and hands its memory back to the pool, so an idle connection holds no buffer at all.
///
/// Back-pressure follows from the fixed size: when `hasSpace` is false the reading side is not read.
struct IOBuffer {
    /// The memory, borrowed from a `BufferPool`; nil while empty.
    private(set) var storage: UnsafeMutableRawPointer?
    /// First unconsumed byte.
    private(set) var head = 0
    /// One past the last byte stored.
    private(set) var tail = 0

    init() {}

    /// Bytes stored and not consumed yet.
    @inline(__always) var count: Int { tail - head }
    @inline(__always) var isEmpty: Bool { tail == head }
    /// True when more bytes can be appended.
    @inline(__always) var hasSpace: Bool { tail < BufferPool.bufferSize }
    /// True while the buffer holds pool memory.
    var holdsMemory: Bool { storage != nil }

    /// The free space after `tail`, taking memory from `pool` if the buffer has none. Nil when the pool
    /// cannot allocate.
    @inline(__always)
    mutating func writableSpace(from pool: BufferPool) -> UnsafeMutableRawBufferPointer? {
        if storage == nil {
            guard let memory = pool.take() else { return nil }
            storage = memory
            head = 0
            tail = 0
        }
        return UnsafeMutableRawBufferPointer(start: storage! + tail, count: BufferPool.bufferSize - tail)
    }

    /// Marks `count` bytes after `tail` as stored (they were written into `writableSpace`).
    @inline(__always)
    mutating func commit(_ count: Int) {
        tail += count
    }

    /// The stored bytes, at most `limit` of them.
    @inline(__always)
    func readable(limit: Int = .max) -> UnsafeRawBufferPointer {
        guard let storage else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: storage + head, count: Swift.min(tail - head, limit))
    }

    /// Drops `count` consumed bytes; an emptied buffer returns its memory to `pool`.
    @inline(__always)
    mutating func consume(_ count: Int, pool: BufferPool) {
        head += count
        if head == tail { release(to: pool) }
    }

    /// Appends `bytes` (which must fit: used for the PROXY header on an empty buffer). Returns false if they
    /// do not fit or memory is exhausted.
    mutating func append(_ bytes: [UInt8], pool: BufferPool) -> Bool {
        guard let space = writableSpace(from: pool), space.count >= bytes.count else { return false }
        space.copyBytes(from: bytes)
        commit(bytes.count)
        return true
    }

    /// Discards the contents and returns the memory to `pool`.
    mutating func release(to pool: BufferPool) {
        if let storage {
            pool.give(storage)
            self.storage = nil
        }
        head = 0
        tail = 0
    }
}
