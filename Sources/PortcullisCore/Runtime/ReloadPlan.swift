/// What a reload changes, computed from the running state and the new file before anything is touched
/// (pure: no socket is bound or closed here, so it can be tested directly).
///
/// - Listening addresses are matched by what they are, not by the listener's position: a configured address
///   the new file still lists (under any listener) keeps its sockets; a new one is bound (`bind`); one the
///   file no longer lists is closed (`close`). An address that now belongs to a listener of another name
///   keeps its sockets and is relabelled (`moves`); a changed `backlog` is applied to the kept sockets with
///   `listen(2)` again (`backlogs`). Sockets inherited from systemd are never bound or closed; they follow
///   the listener `SocketActivation.assign(to:)` gives them in the new file (`moves`).
/// - The keys only a restart applies (`workers`, `user`, `group`, `log_level`, `log_format`, `error_log`,
///   `access_log`, `metrics_listen`) keep their running values in `configuration`, and each one the file
///   changes is listed in `restartOnly`.
struct ReloadPlan: Equatable {
    /// A configured address the reload must bind (one socket per worker) before committing.
    struct NewAddress: Equatable, CustomStringConvertible {
        var listener: String
        var address: ListenAddress
        var backlog: Int
        var description: String { "\(listener)=\(address)" }
    }

    /// A `[global]` key whose new value waits for a restart.
    struct RestartOnlyChange: Equatable, CustomStringConvertible {
        /// The key as written in the file (`workers`).
        var key: String
        /// The value in force (what keeps running).
        var running: String
        /// The value the file asks for.
        var requested: String

        var description: String {
            "global.\(key) changed from \(running) to \(requested) in the file; it takes effect at the next restart (still \(running))"
        }
    }

    /// The configuration that runs once the plan is applied: the new file's, with the restart-only keys of
    /// the running one.
    var configuration: ProxyConfiguration
    /// Addresses to bind, in file order.
    var bind: [NewAddress] = []
    /// Bindings to close (ids, ascending).
    var close: [Int] = []
    /// Bindings kept for a listener of another name: id to the new name.
    var moves: [Int: String] = [:]
    /// Kept bindings whose backlog changes: id to the new backlog.
    var backlogs: [Int: Int] = [:]
    /// Restart-only keys the file changed, in a fixed order.
    var restartOnly: [RestartOnlyChange] = []

    /// The plan from `bindings` (what is bound now) and `running` (the configuration in force) to `new`, whose
    /// inherited sockets were assigned by `assignment` (`SocketActivation.assign(to: new)`).
    init(bindings: [ListenerBinding], running: ProxyConfiguration, new: ProxyConfiguration,
         assignment: SocketActivation.Assignment) {
        var effective = new
        effective.workers = running.workers
        effective.user = running.user
        effective.group = running.group
        effective.logLevel = running.logLevel
        effective.logFormat = running.logFormat
        effective.logDestination = running.logDestination
        effective.accessLog = running.accessLog
        effective.metricsListen = running.metricsListen
        configuration = effective
        restartOnly = Self.restartOnlyChanges(running: running, new: new)

        var configured: [ListenAddress: ListenerBinding] = [:]
        var inherited: [Int32: ListenerBinding] = [:]
        for binding in bindings {
            switch binding.source {
            case .configured(let address): configured[address] = binding
            case .inherited(let fd): inherited[fd] = binding
            }
        }
        var kept = Set<Int>()
        for (index, listener) in new.listeners.enumerated() {
            for socket in assignment.inherited[index] {
                guard let binding = inherited[socket.fd] else { continue }
                kept.insert(binding.id)
                if binding.listener != listener.name { moves[binding.id] = listener.name }
            }
            for address in assignment.toBind[index] {
                guard let binding = configured[address] else {
                    bind.append(NewAddress(listener: listener.name, address: address, backlog: listener.backlog))
                    continue
                }
                kept.insert(binding.id)
                if binding.listener != listener.name { moves[binding.id] = listener.name }
                if binding.backlog != listener.backlog { backlogs[binding.id] = listener.backlog }
            }
        }
        close = bindings.filter { !kept.contains($0.id) && !$0.inherited }.map(\.id).sorted()
    }

    /// True when no listening socket changes (bound, closed, moved or re-listened).
    var keepsListeners: Bool {
        bind.isEmpty && close.isEmpty && moves.isEmpty && backlogs.isEmpty
    }

    private static func restartOnlyChanges(running: ProxyConfiguration, new: ProxyConfiguration) -> [RestartOnlyChange] {
        func text(_ value: String?) -> String { value ?? "(unset)" }
        let pairs: [(String, String, String)] = [
            ("workers", "\(running.workers)", "\(new.workers)"),
            ("user", text(running.user), text(new.user)),
            ("group", text(running.group), text(new.group)),
            ("log_level", "\(running.logLevel)", "\(new.logLevel)"),
            ("log_format", running.logFormat.rawValue, new.logFormat.rawValue),
            ("error_log", running.logDestination.description, new.logDestination.description),
            ("access_log", running.accessLog.description, new.accessLog.description),
            ("metrics_listen", text(running.metricsListen?.description), text(new.metricsListen?.description)),
        ]
        return pairs.filter { $0.1 != $0.2 }.map { RestartOnlyChange(key: $0.0, running: $0.1, requested: $0.2) }
    }
}
