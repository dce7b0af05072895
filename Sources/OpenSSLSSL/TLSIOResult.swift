/// The outcome of one non-throwing I/O step on a `Connection` (`handshakeStep`, `read(into:)`, `write(_:)`,
/// `shutdownStep`). Returning `.wantRead`/`.wantWrite` allocates nothing, so an event loop can poll freely.
public enum TLSIOResult: Sendable {
    /// The step made progress: bytes moved for `read`/`write`; 0 for a finished handshake, or for a shutdown
    /// step that sent close_notify while the peer's has not arrived yet.
    case done(Int)
    /// Call again when the transport is readable (or, with memory BIOs, after `bioWrite`).
    case wantRead
    /// Call again (with the same bytes, which may have moved) when the transport is writable.
    case wantWrite
    /// The peer's close_notify has been received (clean close). From `shutdownStep`: shutdown is complete
    /// in both directions.
    case closed
    /// The transport reached EOF without close_notify (possible truncation attack). pyOpenSSL reports it as
    /// `SysCallError(-1, "Unexpected EOF")`; the throwing API throws `SSLError.unexpectedEOF`.
    case unexpectedEOF
    /// Anything else: an `SSLError`, or a Swift callback's own error, unchanged.
    case failed(any Error)
}
