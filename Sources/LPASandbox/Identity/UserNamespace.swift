#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy

/// The user namespace concern: always created, so everything works for an ordinary
/// user, and root inside is never root outside. One id is mapped: the sandbox user's
/// (the caller's; for a root caller an unprivileged id, see the plan's Identity), seen
/// inside as itself (run-as caller) or as 0 (run-as root). The init takes that id
/// (setresuid in window.c) before it does anything.
enum UserNamespace {
    // The host side of this concern runs in the executor (CLaunch launch.c): a root
    // caller's supplementary groups are dropped before clone (`lpa_launch_drop_groups`:
    // with setgroups denied nobody inside could drop gid 0), and the maps are written
    // once the init exists (`lpa_launch_start`: setgroups deny, uid_map, gid_map).

    /// Why user namespaces may be unavailable here, with the fix; nil if nothing known.
    /// The one line that names the opt-in degraded mode; never a silent fallback.
    static let degradedMention = "\nwhere that cannot be changed, `--isolation landlock` runs a weaker sandbox "
        + "without namespaces (its losses are printed; see docs/profiles.md)"

    static func diagnosis() -> String? {
        let value = readSmallInteger
        if value("/proc/sys/user/max_user_namespaces") == 0 {
            return "user namespaces are disabled: sysctl -w user.max_user_namespaces=15000" + degradedMention
        }
        if value("/proc/sys/kernel/unprivileged_userns_clone") == 0 {
            return "unprivileged user namespaces are disabled: sysctl -w kernel.unprivileged_userns_clone=1" + degradedMention
        }
        if value("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1 {
            return "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+): add an AppArmor profile "
                + "granting `userns,` to lpa-run, or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
                + degradedMention
        }
        let status = readSmallFile("/proc/self/status") ?? ""
        if status.split(separator: "\n").contains(where: { $0.hasPrefix("Seccomp:") && $0.hasSuffix("2") }) {
            return "a seccomp filter of the surrounding container (Docker's default profile, some CI runners) "
                + "probably blocks unshare/clone(CLONE_NEWUSER): run it with a profile that allows them, or run "
                + "lpa-run outside the container (see `lpa-run doctor`)" + degradedMention
        }
        return nil
    }
}
