// swift-tools-version:6.0
import PackageDescription

/// Portcullis: a TLS-terminating reverse proxy, and the Swift port of pyOpenSSL it runs on.
///
/// Module graph (dependencies point one way only):
///   COpenSSL (system OpenSSL 3) <- COpenSSLShim (macros only)
///   OpenSSLCrypto, OpenSSLRand  <- OpenSSLSSL  <- PortcullisCore <- portcullis
let package = Package(
    name: "Portcullis",
    products: [
        .library(name: "OpenSSLCrypto", targets: ["OpenSSLCrypto"]),
        .library(name: "OpenSSLRand", targets: ["OpenSSLRand"]),
        .library(name: "OpenSSLSSL", targets: ["OpenSSLSSL"]),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "COpenSSLShim", dependencies: ["COpenSSL"]),
        .target(name: "OpenSSLCrypto", dependencies: ["COpenSSL", "COpenSSLShim"]),
        .target(name: "OpenSSLRand", dependencies: ["COpenSSL", "COpenSSLShim", "OpenSSLCrypto"]),
        .target(name: "OpenSSLSSL", dependencies: ["COpenSSL", "COpenSSLShim", "OpenSSLCrypto"]),
        .testTarget(name: "OpenSSLCryptoTests", dependencies: ["OpenSSLCrypto"]),
        .testTarget(name: "OpenSSLRandTests", dependencies: ["OpenSSLRand"]),
        .testTarget(name: "OpenSSLSSLTests", dependencies: ["OpenSSLSSL", "OpenSSLCrypto"]),
    ],
    swiftLanguageModes: [.v6]
)
