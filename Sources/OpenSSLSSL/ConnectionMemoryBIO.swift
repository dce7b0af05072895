internal import COpenSSL
internal import COpenSSLShim
internal import OpenSSLCrypto

// The memory-BIO transport: the caller moves ciphertext between OpenSSL and the network itself.

extension Connection {
    /// The two BIOs of a memory-BIO connection, or `wrongTransport` for a socket connection.
    private func memoryBIOs(_ call: String) throws(SSLError) -> (incoming: OpaquePointer, outgoing: OpaquePointer) {
        guard case .memory(let incoming, let outgoing) = transport else {
            OpenSSLErrorQueue.clear()
            throw SSLError.wrongTransport("Connection.\(call) is only valid on a memory-BIO connection (this one uses a socket)")
        }
        return (incoming, outgoing)
    }

    /// Takes up to `maxLength` bytes of ciphertext OpenSSL produced (`bio_read`). Nothing available throws
    /// `wantRead` (never an empty array).
    public func bioRead(_ maxLength: Int) throws -> [UInt8] {
        guard maxLength > 0 else { throw SSLError.argument("bufsiz must be positive") }
        let outgoing = try memoryBIOs("bioRead").outgoing
        return try [UInt8](unsafeUninitializedCapacity: maxLength) { storage, initialized in
            initialized = try Connection.readBIO(outgoing, into: UnsafeMutableRawBufferPointer(storage))
        }
    }

    /// Takes ciphertext into `buffer` without allocating; returns the count (`bio_read` into a buffer).
    /// Nothing available throws `wantRead`.
    public func bioRead(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { throw SSLError.argument("buffer must not be empty") }
        return try Connection.readBIO(try memoryBIOs("bioRead").outgoing, into: buffer)
    }

    /// Ciphertext bytes waiting in the outgoing BIO (`BIO_ctrl_pending`); 0 for a socket connection.
    public func bioPending() -> Int {
        guard case .memory(_, let outgoing) = transport else { return 0 }
        return Int(BIO_ctrl_pending(outgoing))
    }

    private static func readBIO(_ bio: OpaquePointer, into buffer: UnsafeMutableRawBufferPointer) throws(SSLError) -> Int {
        OpenSSLErrorQueue.clear()
        let count = BIO_read(bio, buffer.baseAddress, Int32(clamping: buffer.count))
        if count > 0 { return Int(count) }
        if portcullis_conn_BIO_should_retry(bio) == 1 { throw SSLError.wantRead }
        throw SSLError.fromQueue()
    }

    /// Feeds received ciphertext to OpenSSL (`bio_write`); returns the number of bytes taken (all of them).
    @discardableResult
    public func bioWrite(_ bytes: some Collection<UInt8>) throws -> Int {
        let incoming = try memoryBIOs("bioWrite").incoming
        if let result = bytes.withContiguousStorageIfAvailable({ Connection.writeBIO(incoming, UnsafeRawBufferPointer($0)) }) {
            return try result.get()
        }
        let array = Array(bytes)
        return try array.withUnsafeBytes { Connection.writeBIO(incoming, $0) }.get()
    }

    /// Feeds received ciphertext from a raw buffer.
    @discardableResult
    public func bioWrite(_ buffer: UnsafeRawBufferPointer) throws -> Int {
        try Connection.writeBIO(try memoryBIOs("bioWrite").incoming, buffer).get()
    }

    private static func writeBIO(_ bio: OpaquePointer, _ buffer: UnsafeRawBufferPointer) -> Result<Int, SSLError> {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .success(0) }
        guard buffer.count <= Int(Int32.max) else {
            return .failure(.argument("cannot write more than \(Int32.max) bytes at once"))
        }
        OpenSSLErrorQueue.clear()
        let count = BIO_write(bio, base, Int32(buffer.count))
        guard count > 0 else { return .failure(SSLError.fromQueue()) }
        return .success(Int(count))
    }

    /// Marks the end of the incoming ciphertext (`bio_shutdown`): once the buffered bytes are consumed,
    /// OpenSSL sees EOF instead of `wantRead` (so a missing close_notify surfaces as `unexpectedEOF`).
    public func bioShutdown() throws {
        let incoming = try memoryBIOs("bioShutdown").incoming
        _ = portcullis_conn_BIO_set_mem_eof_return(incoming, 0)
    }
}
