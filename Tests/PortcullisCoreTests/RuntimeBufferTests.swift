import Testing
@testable import PortcullisCore

@Suite struct RuntimeBufferTests {
    @Test func poolBuffersArePageAlignedAndReused() throws {
        let pool = BufferPool(maximumCached: 4)
        let first = try #require(pool.take())
        let second = try #require(pool.take())
        #expect(Int(bitPattern: first) % 4096 == 0)
        #expect(Int(bitPattern: second) % 4096 == 0)
        #expect(pool.allocations == 2 && pool.outstanding == 2)
        pool.give(first)
        pool.give(second)
        #expect(pool.outstanding == 0 && pool.cachedCount == 2)
        // Steady state: taking and giving back allocates nothing new.
        for _ in 0..<1000 {
            let buffer = try #require(pool.take())
            pool.give(buffer)
        }
        #expect(pool.allocations == 2)
    }

    @Test func poolCachesAtMostItsLimit() throws {
        let pool = BufferPool(maximumCached: 2)
        let buffers = (0..<5).compactMap { _ in pool.take() }
        #expect(buffers.count == 5)
        for buffer in buffers { pool.give(buffer) }
        #expect(pool.cachedCount == 2)
        #expect(pool.outstanding == 0)
    }

    @Test func ioBufferHoldsMemoryOnlyWhileNotEmpty() throws {
        let pool = BufferPool()
        var buffer = IOBuffer()
        #expect(!buffer.holdsMemory && buffer.isEmpty && buffer.hasSpace)
        let taken = buffer.writableSpace(from: pool)
        let space = try #require(taken)
        #expect(space.count == BufferPool.bufferSize)
        space.copyBytes(from: [1, 2, 3, 4, 5])
        buffer.commit(5)
        #expect(buffer.count == 5 && pool.outstanding == 1)
        #expect(Array(buffer.readable(limit: 3)) == [1, 2, 3])
        buffer.consume(3, pool: pool)
        #expect(Array(buffer.readable()) == [4, 5])
        buffer.consume(2, pool: pool)
        #expect(!buffer.holdsMemory && pool.outstanding == 0)
    }

    @Test func fullBufferReportsNoSpace() throws {
        let pool = BufferPool()
        var buffer = IOBuffer()
        let taken = buffer.writableSpace(from: pool)
        let space = try #require(taken)
        buffer.commit(space.count)
        #expect(!buffer.hasSpace)
        buffer.consume(100, pool: pool)
        // Linear buffer: consumed space is reused only once it is empty.
        #expect(!buffer.hasSpace && buffer.count == BufferPool.bufferSize - 100)
        buffer.release(to: pool)
        #expect(buffer.isEmpty && pool.outstanding == 0)
    }

    @Test func appendRefusesWhatDoesNotFit() {
        let pool = BufferPool()
        var buffer = IOBuffer()
        let small = buffer.append([UInt8](repeating: 7, count: 100), pool: pool)
        let large = buffer.append([UInt8](repeating: 7, count: BufferPool.bufferSize), pool: pool)
        #expect(small)
        #expect(!large)
        #expect(buffer.count == 100)
        buffer.release(to: pool)
    }
}
