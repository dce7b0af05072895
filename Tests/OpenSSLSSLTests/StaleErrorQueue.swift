import COpenSSL
import Testing
import OpenSSLCrypto

// Kept apart from the other test files: importing COpenSSL next to OpenSSLSSL/OpenSSLCrypto would make names
// such as `SSL` and `X509` ambiguous.

/// The text OpenSSL attaches to the stale entry `dirtyTheErrorQueue()` leaves behind, so a thrown error that
/// carried it over is easy to spot.
let staleErrorMarker = "PORTCULLIS-SSL-STALE-MARKER"

/// Leaves one entry on this thread's error queue, as an earlier unrelated failure would (the same technique as
/// `CryptoCoverageTests.dirtyTheQueue`).
func dirtyTheErrorQueue() throws {
    OpenSSLErrorQueue.clear()
    let md = EVP_MD_fetch(nil, staleErrorMarker, nil)
    #expect(md == nil)
    try #require(!OpenSSLErrorQueue.isEmpty, "could not leave a stale error on the queue")
}

/// True when `entries` include the stale entry.
func carriesStaleEntry(_ entries: [OpenSSLErrorEntry]) -> Bool {
    entries.contains { $0.data.contains(staleErrorMarker) }
}
