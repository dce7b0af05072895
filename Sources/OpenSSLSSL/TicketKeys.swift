internal import COpenSSL
internal import OpenSSLCrypto
import Synchronization

/// Session-ticket keys a server encrypts resumption tickets with, so that tickets survive restarts, work
/// across processes sharing the keys, and keys can be rotated without rebuilding the Context.
///
/// The first key encrypts new tickets; every key decrypts. A ticket made with an older key still resumes,
/// and the client receives a fresh ticket under the first key. Rotate by putting a new key first
/// (`rotated(adding:keeping:)`) and calling `Context.setTicketKeys` again, on every process at about the same
/// time. Tickets are AES-256-CBC encrypted and HMAC-SHA256 authenticated (OpenSSL's own ticket format).
public struct TicketKeys: Sendable, Equatable {
    /// One 80-byte key: 16-byte name (sent in clear in the ticket), 32-byte HMAC secret, 32-byte AES key.
    public struct Key: Sendable, Equatable {
        public static let byteCount = 80
        public let name: [UInt8]
        public let hmacSecret: [UInt8]
        public let aesKey: [UInt8]

        /// Parses the 80-byte form (name, HMAC secret, AES key).
        public init(_ bytes: some Collection<UInt8>) throws {
            let all = Array(bytes)
            guard all.count == Self.byteCount else {
                throw SSLError.argument("a ticket key is \(Self.byteCount) bytes (16 name + 32 HMAC + 32 AES), got \(all.count)")
            }
            name = Array(all[0..<16])
            hmacSecret = Array(all[16..<48])
            aesKey = Array(all[48..<80])
        }

        /// A fresh random key (`RAND_bytes`).
        public static func generate() throws -> Key {
            var bytes = [UInt8](repeating: 0, count: byteCount)
            OpenSSLErrorQueue.clear()
            guard bytes.withUnsafeMutableBufferPointer({ RAND_bytes($0.baseAddress, Int32($0.count)) }) == 1 else {
                throw SSLError.fromQueue("RAND_bytes")
            }
            return try Key(bytes)
        }

        /// The 80-byte form, to share with other processes (it is secret).
        public var bytes: [UInt8] { name + hmacSecret + aesKey }
    }

    /// The keys, the encrypting one first.
    public let keys: [Key]

    /// At least one key; names must be distinct (the name selects the key that decrypts a ticket).
    public init(_ keys: [Key]) throws {
        guard !keys.isEmpty else { throw SSLError.argument("TicketKeys needs at least one key") }
        guard Set(keys.map(\.name)).count == keys.count else {
            throw SSLError.argument("ticket key names must be distinct")
        }
        self.keys = keys
    }

    /// From 80-byte keys, the encrypting one first.
    public init(serialized: [[UInt8]]) throws {
        try self.init(serialized.map { try Key($0) })
    }

    /// One fresh random key.
    public static func generate() throws -> TicketKeys { try TicketKeys([Key.generate()]) }

    /// The key new tickets are encrypted with.
    public var encryptionKey: Key { keys[0] }

    /// A copy with `key` first (encrypting) followed by the newest `keeping - 1` current keys.
    public func rotated(adding key: Key, keeping: Int = 3) throws -> TicketKeys {
        guard keeping >= 1 else { throw SSLError.argument("keeping must be at least 1") }
        return try TicketKeys(Array(([key] + keys.filter { $0.name != key.name }).prefix(keeping)))
    }
}

/// An immutable snapshot of a Context's ticket keys, swapped whole under `Context.ticketKeyRing`.
final class TicketKeyRing: Sendable {
    let keys: TicketKeys
    init(_ keys: TicketKeys) { self.keys = keys }
}

extension Context {
    /// Installs or rotates the session-ticket keys (`SSL_CTX_set_tlsext_ticket_key_evp_cb`).
    ///
    /// The first call must happen before the Context is frozen (it installs OpenSSL's callback). Later calls
    /// are allowed on a frozen Context, from any thread: they only swap the key list atomically, so handshakes
    /// in flight use either the old or the new list, never a mix. This is the one documented exception to
    /// freezing. Tickets must also be enabled (`OP_NO_TICKET` clear, the default).
    ///
    /// With SNI, give every Context a Connection can switch to the same keys: OpenSSL runs the callback of
    /// the first Context, and this implementation reads the keys of the Context the Connection uses now.
    public func setTicketKeys(_ keys: TicketKeys) throws {
        let ring = TicketKeyRing(keys)
        if !ticketCallbackInstalled {
            try ensureMutable()
            OpenSSLErrorQueue.clear()
            guard SSL_CTX_set_tlsext_ticket_key_evp_cb(pointer, ticketKeyTrampoline) == 1 else {
                throw SSLError.fromQueue("SSL_CTX_set_tlsext_ticket_key_evp_cb")
            }
            ticketCallbackInstalled = true
        }
        ticketKeyRing.withLock { $0 = ring }
    }

    /// The current ticket keys, or nil when OpenSSL's own per-Context random keys are in use.
    public func getTicketKeys() -> TicketKeys? {
        ticketKeyRing.withLock { $0 }?.keys
    }
}

/// Fetched once: implicit fetches of `EVP_aes_256_cbc()` cost a provider lookup per handshake on 3.0.
nonisolated(unsafe) private let ticketCipher: OpaquePointer? = EVP_CIPHER_fetch(nil, "AES-256-CBC", nil)
private let macKeyParameter: StaticString = "key"
private let macDigestParameter: StaticString = "digest"
private let macDigestName: StaticString = "SHA256"

private func cString(_ text: StaticString) -> UnsafeMutablePointer<CChar> {
    // StaticString storage is NUL-terminated and immortal.
    UnsafeMutableRawPointer(mutating: text.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// Keys the ticket HMAC (`EVP_MAC_CTX` is already an HMAC context; OpenSSL wants key and digest).
private func setHMACKey(_ mac: OpaquePointer, _ secret: [UInt8]) -> Bool {
    secret.withUnsafeBytes { raw in
        withUnsafeTemporaryAllocation(of: OSSL_PARAM.self, capacity: 3) { params in
            params[0] = OSSL_PARAM_construct_octet_string(cString(macKeyParameter), UnsafeMutableRawPointer(mutating: raw.baseAddress), raw.count)
            params[1] = OSSL_PARAM_construct_utf8_string(cString(macDigestParameter), cString(macDigestName), 0)
            params[2] = OSSL_PARAM_construct_end()
            return EVP_MAC_CTX_set_params(mac, params.baseAddress) == 1
        }
    }
}

/// Returns 1 (ticket made / decrypted with the current key), 2 (decrypted with an older key: renew it),
/// 0 (unknown key name: full handshake) or -1 (internal failure).
private func ticketKeyTrampoline(
    _ ssl: OpaquePointer?, _ keyName: UnsafeMutablePointer<UInt8>?, _ iv: UnsafeMutablePointer<UInt8>?,
    _ cipherContext: OpaquePointer?, _ macContext: OpaquePointer?, _ encrypt: Int32
) -> Int32 {
    guard let ssl, let keyName, let iv, let cipherContext, let macContext, let cipher = ticketCipher,
          let ctx = SSL_get_SSL_CTX(ssl), let context = Context.from(ctx),
          let ring = context.ticketKeyRing.withLock({ $0 }) else { return -1 }
    let keys = ring.keys.keys
    if encrypt == 1 {
        let key = keys[0]
        guard RAND_bytes(iv, 16) == 1 else { return -1 }
        key.name.withUnsafeBytes { UnsafeMutableRawPointer(keyName).copyMemory(from: $0.baseAddress!, byteCount: 16) }
        guard EVP_EncryptInit_ex(cipherContext, cipher, nil, key.aesKey, iv) == 1,
              setHMACKey(macContext, key.hmacSecret) else { return -1 }
        return 1
    }
    guard let index = keys.firstIndex(where: { key in key.name.withUnsafeBytes { memcmp($0.baseAddress!, keyName, 16) == 0 } }) else {
        return 0
    }
    let key = keys[index]
    guard setHMACKey(macContext, key.hmacSecret),
          EVP_DecryptInit_ex(cipherContext, cipher, nil, key.aesKey, iv) == 1 else { return -1 }
    return index == 0 ? 1 : 2
}
