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
        .executable(name: "portcullis", targets: ["portcullis"]),
        .library(name: "OpenSSLCrypto", targets: ["OpenSSLCrypto"]),
        .library(name: "OpenSSLRand", targets: ["OpenSSLRand"]),
        .library(name: "OpenSSLSSL", targets: ["OpenSSLSSL"]),
    ],
    dependencies: [
        // Command line (`run`, `check`, `version`, `cert ...`): the standard parser, no hand-rolled flags.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Structured logging API; the proxy ships its own access-log/console handlers on top.
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // The config file is TOML (familiar to stunnel/HAProxy users, comments allowed); toml++ reports line/column.
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
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
        .target(name: "CPortcullisSystem"),
        .target(
            name: "PortcullisCore",
            dependencies: [
                "OpenSSLSSL", "OpenSSLCrypto", "CPortcullisSystem",
                // Serial numbers of the first-run development certificate.
                "OpenSSLRand",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        .executableTarget(
            name: "portcullis",
            dependencies: [
                "PortcullisCore", "OpenSSLSSL", "OpenSSLCrypto",
                // Only for the OPENSSL_VERSION_TEXT constant `portcullis version` prints (the headers built against).
                "COpenSSL",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "OpenSSLCryptoTests", dependencies: ["OpenSSLCrypto"]),
        .testTarget(name: "OpenSSLRandTests", dependencies: ["OpenSSLRand"]),
        .testTarget(name: "OpenSSLSSLTests", dependencies: ["OpenSSLSSL", "OpenSSLCrypto"]),
        .testTarget(name: "PortcullisCoreTests", dependencies: ["PortcullisCore", "OpenSSLSSL", "OpenSSLCrypto"]),
        // Starts the real `portcullis` binary and talks to it with openssl s_client, curl and Python's ssl.
        .testTarget(name: "PortcullisIntegrationTests", dependencies: ["OpenSSLCrypto"]),
    ],
    swiftLanguageModes: [.v6]
)
