extension Host {
    /// The host's `balance`, `backend_*` and `health_check_*` settings.
    public var backendHealth: BackendHealthConfiguration { configuration.backendHealth }
}
