#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy

/// The user namespace concern: always created, so everything works for an ordinary
/// user, and root inside is never root outside. One id is mapped: the caller's, seen
/// inside as itself (run-as caller) or as 0 (run-as root).
enum UserNamespace {
    /// Written by the parent once the child exists; the child waits on a pipe first.
    static func writeIdMaps(pid: pid_t, identity: Identity) throws(LaunchError) {
        let base = "/proc/\(pid)"
        // Unprivileged gid_map writes require setgroups to be denied first; it also stops
        // the workload from dropping groups that restrict it on the host.
        try writeFile("\(base)/setgroups", "deny", step: "user namespace: setgroups deny")
        try writeFile("\(base)/uid_map", "\(identity.sandboxUid) \(identity.uid) 1\n",
                      step: "user namespace: uid_map", hint: diagnosis())
        try writeFile("\(base)/gid_map", "\(identity.sandboxGid) \(identity.gid) 1\n",
                      step: "user namespace: gid_map", hint: diagnosis())
    }

    /// Why user namespaces may be unavailable here, with the fix; nil if nothing known.
    static func diagnosis() -> String? {
        let value = readSmallInteger
        if value("/proc/sys/user/max_user_namespaces") == 0 {
            return "user namespaces are disabled: sysctl -w user.max_user_namespaces=15000"
        }
        if value("/proc/sys/kernel/unprivileged_userns_clone") == 0 {
            return "unprivileged user namespaces are disabled: sysctl -w kernel.unprivileged_userns_clone=1"
        }
        if value("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1 {
            return "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+): add an AppArmor profile "
                + "granting `userns,` to lpa-run, or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
        }
        return nil
    }
}
