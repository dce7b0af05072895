internal import CPortcullisSystem
internal import Glibc

/// Why the proxy will not run with the identity it has, or could not change it.
public struct PrivilegeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What `portcullis run` does about its identity once every socket is bound (`[global] user`/`group`,
/// and `--allow-root`). Decided, with users and groups looked up, before anything is bound, so a typo in
/// `user` fails at once; applied by `apply()` after binding, before the worker threads start.
///
/// | started as | `user` set | what happens |
/// |---|---|---|
/// | root | yes | switch to it: its supplementary groups (`initgroups`), `group` or its primary group, then the uid; then verify that root cannot be regained and no capability is left |
/// | root | no | refused, unless `--allow-root` (then `group`, if set, is still applied) |
/// | another user | equals the current uid | keep it (e.g. systemd's `User=`); drop every capability (such as `CAP_NET_BIND_SERVICE`, no longer needed once the sockets are bound) |
/// | another user | another user | refused: only root can change users |
///
/// Certificates and keys are read before the switch; a reload reads them again as the new user, so they
/// must be readable by it (`reloadNote` says so in a failed reload's log line).
public struct PrivilegePlan: Sendable, Equatable, CustomStringConvertible {
    public enum Action: Sendable, Equatable {
        /// From root to this user and group.
        case switchUser(name: String, uid: UInt32, gid: UInt32)
        /// Stay root (`--allow-root`), with this group.
        case switchGroup(name: String, gid: UInt32)
        /// Stay root (`--allow-root`).
        case keepRoot
        /// Not root and already the configured identity: only capabilities are dropped.
        case keepUnprivileged(uid: UInt32)
    }

    public let action: Action

    /// True when the process is still root after `apply()` (`--allow-root`).
    public var keepsRoot: Bool {
        switch action {
        case .switchGroup, .keepRoot: return true
        case .switchUser(_, let uid, _): return uid == 0
        case .keepUnprivileged: return false
        }
    }

    /// Decides for the current process (its effective uid and gid).
    public static func make(user: String?, group: String?, allowRoot: Bool) throws(PrivilegeError) -> PrivilegePlan {
        try make(user: user, group: group, allowRoot: allowRoot, euid: geteuid(), egid: getegid())
    }

    /// Decides for a process running as `euid`/`egid` (users and groups are looked up for real).
    static func make(user: String?, group: String?, allowRoot: Bool, euid: UInt32, egid: UInt32)
        throws(PrivilegeError) -> PrivilegePlan {
        let target = try user.map { name throws(PrivilegeError) in try lookupUser(name) }
        let groupID = try group.map { name throws(PrivilegeError) in try lookupGroup(name) }
        if euid == 0 {
            if let target {
                return PrivilegePlan(action: .switchUser(name: target.name, uid: target.uid, gid: groupID ?? target.gid))
            }
            guard allowRoot else {
                throw PrivilegeError(
                    "refusing to run as root without a user to switch to: set user = \"...\" (and optionally group) in "
                        + "[global], so the proxy binds its sockets as root and then runs as that user, "
                        + "or pass --allow-root to keep running as root")
            }
            if let group, let groupID { return PrivilegePlan(action: .switchGroup(name: group, gid: groupID)) }
            return PrivilegePlan(action: .keepRoot)
        }
        let current = userName(euid).map { "\($0) (uid \(euid))" } ?? "uid \(euid)"
        if let user, let target, target.uid != euid {
            throw PrivilegeError(
                "cannot switch to user \(user) (uid \(target.uid)): the proxy runs as \(current), and only root can "
                    + "change users (start it as root, or as \(user) itself, e.g. with systemd's User=)")
        }
        if let group, let groupID, groupID != egid {
            throw PrivilegeError(
                "cannot switch to group \(group) (gid \(groupID)): the proxy runs as \(current) with gid \(egid), "
                    + "and only root can change groups")
        }
        return PrivilegePlan(action: .keepUnprivileged(uid: euid))
    }

    /// Switches identity (process-wide). Call after binding and before starting threads of our own.
    /// Returns a line for the log.
    public func apply() throws(PrivilegeError) -> String {
        switch action {
        case .switchUser(let name, let uid, let gid):
            let step = portcullis_switch_identity(name, uid, gid, 1)
            if step != 0 { throw Self.failure(step, errno: errno, target: "user \(name) (uid \(uid), gid \(gid))") }
            return "running as user \(name) (uid \(uid), gid \(gid)); root privileges dropped"
        case .switchGroup(let name, let gid):
            let step = portcullis_switch_identity(nil, 0, gid, 0)
            if step != 0 { throw Self.failure(step, errno: errno, target: "group \(name) (gid \(gid))") }
            return "running as root with group \(name) (gid \(gid)) because of --allow-root"
        case .keepRoot:
            return "running as root because of --allow-root"
        case .keepUnprivileged(let uid):
            let who = Self.userName(uid).map { "user \($0) (uid \(uid))" } ?? "uid \(uid)"
            guard portcullis_holds_capabilities() == 1 else { return "running as \(who)" }
            guard portcullis_drop_capabilities() == 0 else {
                throw PrivilegeError("cannot drop capabilities: \(SystemCallError.last("capset"))")
            }
            return "running as \(who); capabilities dropped after binding"
        }
    }

    /// Appended to a failed reload's log line once privileges were dropped: reloads run as the new user.
    public var reloadNote: String? {
        guard case .switchUser(let name, let uid, _) = action else { return nil }
        return "reloads run as user \(name) (uid \(uid)): the configuration file and every certificate, key, "
            + "passphrase, CA, CRL and ticket-key file it names must be readable by that user"
    }

    public var description: String {
        switch action {
        case .switchUser(let name, let uid, let gid): return "switch to user \(name) (uid \(uid), gid \(gid))"
        case .switchGroup(let name, let gid): return "stay root, switch to group \(name) (gid \(gid))"
        case .keepRoot: return "stay root"
        case .keepUnprivileged(let uid): return "keep uid \(uid), drop capabilities"
        }
    }

    private static func failure(_ step: Int32, errno code: Int32, target: String) -> PrivilegeError {
        let what: String
        switch step {
        case Int32(PORTCULLIS_SWITCH_SETGROUPS): what = "setting the supplementary groups failed: \(SystemCallError("setgroups", code: code))"
        case Int32(PORTCULLIS_SWITCH_SETGID): what = "setresgid failed: \(SystemCallError("setresgid", code: code))"
        case Int32(PORTCULLIS_SWITCH_SETUID): what = "setresuid failed: \(SystemCallError("setresuid", code: code))"
        case Int32(PORTCULLIS_SWITCH_VERIFY_IDS): what = "the real, effective and saved ids are not the requested ones afterwards"
        case Int32(PORTCULLIS_SWITCH_REGAINED_ROOT): what = "root could be regained afterwards"
        case Int32(PORTCULLIS_SWITCH_CAPABILITIES_LEFT): what = "capabilities were left afterwards"
        default: what = "unexpected failure \(step)"
        }
        return PrivilegeError("cannot switch to \(target): \(what)")
    }

    private struct UserEntry { var name: String; var uid: UInt32; var gid: UInt32 }

    private static func lookupUser(_ name: String) throws(PrivilegeError) -> UserEntry {
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        var canonical = [CChar](repeating: 0, count: 256)
        let result = portcullis_lookup_user(name, &uid, &gid, &canonical, UInt(canonical.count))
        switch result {
        case 0:
            let text = String(decoding: canonical.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return UserEntry(name: text, uid: uid, gid: gid)
        case 1: throw PrivilegeError("user: no user named \(name) (see getent passwd \(name))")
        default: throw PrivilegeError("user: cannot look up \(name): \(SystemCallError.last("getpwnam_r"))")
        }
    }

    private static func lookupGroup(_ name: String) throws(PrivilegeError) -> UInt32 {
        var gid: UInt32 = 0
        switch portcullis_lookup_group(name, &gid) {
        case 0: return gid
        case 1: throw PrivilegeError("group: no group named \(name) (see getent group \(name))")
        default: throw PrivilegeError("group: cannot look up \(name): \(SystemCallError.last("getgrnam_r"))")
        }
    }

    static func userName(_ uid: UInt32) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard portcullis_user_name(uid, &buffer, UInt(buffer.count)) == 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
