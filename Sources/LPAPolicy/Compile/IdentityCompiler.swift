/// Which host ids the sandbox user is. The caller's own, except for root: a root
/// caller's workload would own every root-only file a bind exposes (WireGuard and
/// NetworkManager keys, keytabs) and much of /proc. It becomes the user who ran sudo
/// (SUDO_UID/SUDO_GID) or else nobody (65534); `run-as: root` is then root inside the
/// user namespace only. lpa-run itself keeps root for what needs it on the host side
/// (noswap tmpfs, pins, writing the id maps).
enum IdentityCompiler {
    static let nobody: UInt32 = 65534

    static func identity(runAs: Identity.RunAs, context: HostContext) -> Identity {
        guard context.uid == 0 else { return Identity(runAs: runAs, uid: context.uid, gid: context.gid) }
        func unprivileged(_ name: String) -> UInt32 {
            guard let text = context.environment[name], let id = UInt32(text), id != 0, id != UInt32.max else {
                return nobody
            }
            return id
        }
        let uid = unprivileged("SUDO_UID")
        // A gid of the sudo user only with its uid: never a group of root's with nobody.
        let gid = uid == nobody ? nobody : unprivileged("SUDO_GID")
        return Identity(runAs: runAs, uid: uid, gid: gid)
    }
}
