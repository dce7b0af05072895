import OpenSSLSSL

/// The compiled host table is what the runtime routes with.
extension HostTable: ConnectionRouter {
    public func handshakeContext(forListener listener: String) -> Context? {
        self.listener(named: listener)?.context
    }

    public func routedHost(for connection: Connection) -> (any RoutedHost)? {
        host(for: connection)
    }
}

extension Host: RoutedHost {}
