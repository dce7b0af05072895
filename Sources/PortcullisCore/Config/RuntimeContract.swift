
/// The contract between the configuration side (`portcullis run`, `HostTable`) and the runtime
/// (`Runtime/ProxyServer.swift`). `portcullis run` does exactly this:
///
/// ```swift
/// let table = try HostTable.load(file: path, logger: logger)        // parse + compile (certs, keys, CAs, CRLs)
/// let server = try ProxyServer(table: table, logging: logging)       // binds every listener address
/// let status = try server.run()                                     // until SIGTERM/SIGINT drain; returns exit status
/// ```
///
/// - On SIGHUP the runtime calls `HostTable.load(file: table.configuration.sourceFile!, logger:)` again; a thrown
///   `ConfigurationError`/compile error is logged and the old table keeps serving. Connections keep the table
///   they started with.
/// - Per accepted connection: `Connection(context: listenerTLS.context, socket: fd)`, `setAcceptState()`, drive
///   `handshakeStep()`; the SNI callback installed on `listenerTLS.context` switches to the host's context.
/// - After the handshake: `table.host(for: connection)` (nil only if the handshake failed before SNI
///   selection), then `host.admits(connection)`; `.deny(reason)` closes without contacting a backend.
/// - Access log: the runtime hands each finished `ConnectionRecord` to `logging.accessLog.write(_:)`.
public protocol ProxyServing: AnyObject {
    /// Prepares to serve `table` (binds sockets; privileges are dropped after binding).
    init(table: HostTable, logging: LoggingSetup) throws
    /// Serves until drained; returns the process exit status (0 after a clean drain).
    func run() throws -> Int32
}
