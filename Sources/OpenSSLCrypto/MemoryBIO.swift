internal import COpenSSL
internal import COpenSSLShim

/// A memory BIO owned by Swift, used to move bytes in and out of OpenSSL's PEM/DER/print functions.
///
/// Package-visible so `OpenSSLSSL` can reuse it; never part of the public API.
package final class MemoryBIO {
    /// The `BIO *`.
    package let pointer: OpaquePointer

    /// An empty, writable BIO.
    package init() throws(CryptoError) {
        guard let bio = BIO_new(BIO_s_mem()) else { throw CryptoError.fromQueue() }
        pointer = bio
    }

    /// A BIO that reads `bytes`. The bytes are copied, so the BIO does not borrow Swift memory.
    package init(_ bytes: some Collection<UInt8>) throws(CryptoError) {
        guard let bio = BIO_new(BIO_s_mem()) else { throw CryptoError.fromQueue() }
        pointer = bio
        let array = Array(bytes)
        if !array.isEmpty {
            let written = array.withUnsafeBytes { BIO_write(bio, $0.baseAddress, Int32($0.count)) }
            guard written == Int32(array.count) else { throw CryptoError.fromQueue() }
        }
    }

    deinit { BIO_free(pointer) }

    /// Everything written to the BIO so far.
    package func bytes() -> [UInt8] {
        var data: UnsafeMutablePointer<CChar>?
        let length = portcullis_BIO_get_mem_data(pointer, &data)
        guard length > 0, let data else { return [] }
        return Array(UnsafeRawBufferPointer(start: data, count: Int(length)))
    }

    /// Everything written so far, decoded as UTF-8 (OpenSSL's print functions write ASCII or UTF-8).
    package func string() -> String {
        String(decoding: bytes(), as: UTF8.self)
    }
}
