import FoundationEssentials
import OpenSSLSSL

/// Reads `ticket_key_files`: one 80-byte key per file, raw (`openssl rand 80 > ticket.key`, nginx's format)
/// or base64 text (`openssl rand -base64 80`). The first file's key encrypts new tickets; all decrypt, so
/// rotation is: generate a new file, list it first, keep the previous ones, reload every instance.
enum TicketKeyFiles {
    static func load(_ paths: [String]) throws -> TicketKeys {
        var keys: [TicketKeys.Key] = []
        for path in paths {
            let bytes = try CredentialLoader.readFile(path, what: "ticket key file")
            let raw: [UInt8]
            if bytes.count == TicketKeys.Key.byteCount {
                raw = bytes
            } else if let text = String(bytes: bytes, encoding: .ascii),
                      let decoded = Data(base64Encoded: text.filter { !$0.isWhitespace }), decoded.count == TicketKeys.Key.byteCount {
                raw = Array(decoded)
            } else {
                throw CredentialLoader.Failure(description:
                    "ticket key file \(path) must hold exactly 80 bytes (raw, or base64 text); it has \(bytes.count) bytes. Create one with: openssl rand 80 > \(path)")
            }
            keys.append(try TicketKeys.Key(raw))
        }
        do {
            return try TicketKeys(keys)
        } catch {
            throw CredentialLoader.Failure(description: "ticket key files: \(error) (is the same file listed twice?)")
        }
    }
}
