#if canImport(Glibc)
import Glibc
#endif
import CCap
import CShims
import CSeccomp
import LPAPolicy

/// One answer of `lpa-run doctor`: a yes/no about this host and, for a no, the fix.
public struct HostCheck: Sendable {
    public var name: String
    public var ok: Bool
    /// What was found (a version, a value, the errno).
    public var detail: String
    /// How to turn a no into a yes; nil when ok or when nothing needs doing.
    public var fix: String?
    /// Whether lpa-run needs it (a missing optional feature is reported, not fatal).
    public var required: Bool

    public init(name: String, ok: Bool, detail: String, fix: String? = nil, required: Bool = true) {
        self.name = name
        self.ok = ok
        self.detail = detail
        self.fix = ok ? nil : fix
        self.required = required
    }
}

/// The kernel and library features lpa-run relies on, checked without changing
/// anything: every object a check creates is closed before it returns.
public enum HostSupport {
    public static func checks() -> [HostCheck] {
        userNamespaces() + [seccompFilter(), seccompUserNotification(), landlock(), tmpfsNoswap(),
                            cgroupV2(), cgroupDelegation(), pidfd(), closeRange(), libseccomp(), libcap()]
    }

    static func sysctl(_ path: String) -> String? {
        readSmallFile(path).map { $0.trimmingWhitespace }
    }

    static func userNamespaces() -> [HostCheck] {
        var result: [HostCheck] = []
        let max = sysctl("/proc/sys/user/max_user_namespaces")
        result.append(HostCheck(
            name: "user namespaces", ok: (Int(max ?? "") ?? 0) > 0,
            detail: "user.max_user_namespaces = \(max ?? "unreadable")",
            fix: "sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d/ to keep it)"))
        if let clone = sysctl("/proc/sys/kernel/unprivileged_userns_clone") {
            result.append(HostCheck(
                name: "unprivileged user namespaces (Debian switch)", ok: clone == "1",
                detail: "kernel.unprivileged_userns_clone = \(clone)",
                fix: "sysctl -w kernel.unprivileged_userns_clone=1"))
        }
        if let apparmor = sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") {
            result.append(HostCheck(
                name: "unprivileged user namespaces (Ubuntu AppArmor)", ok: apparmor == "0",
                detail: "kernel.apparmor_restrict_unprivileged_userns = \(apparmor)",
                fix: "add an AppArmor profile granting `userns,` to lpa-run (/etc/apparmor.d/lpa-run), "
                    + "or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"))
        }
        result.append(userNamespaceCreation())
        return result
    }

    /// Whether this process may create a user namespace now (a child tries unshare), and
    /// when it cannot while a seccomp filter confines this process (/proc/self/status
    /// Seccomp: 2), that the surrounding container's filter is the likely cause.
    static func userNamespaceCreation() -> HostCheck {
        let rc = lpa_userns_unshare_check()
        let filtered = readSmallFile("/proc/self/status")?.split(separator: "\n")
            .first { $0.hasPrefix("Seccomp:") }.map { $0.dropFirst(8).trimmingBlanks == "2" } ?? false
        let filterText = filtered ? "this process runs under a seccomp filter (Seccomp: 2)" : "no seccomp filter on this process"
        if rc == 0 {
            return HostCheck(name: "user namespace creation", ok: true, detail: "unshare(CLONE_NEWUSER) works; \(filterText)")
        }
        let fix = filtered
            ? "a seccomp filter of the surrounding container (Docker's default profile, some CI runners) probably "
                + "blocks unshare/clone(CLONE_NEWUSER): run it with a profile that allows them "
                + "(docker run --security-opt seccomp=PROFILE.json), or run lpa-run outside the container"
            : "see the user namespace checks above (user.max_user_namespaces, AppArmor's restriction)"
        let degraded = fix + UserNamespace.degradedMention.replacingEvery("\n", with: "; ")
        return HostCheck(name: "user namespace creation", ok: false,
                         detail: "unshare(CLONE_NEWUSER): \(errnoName(rc)); \(filterText)", fix: degraded)
    }

    /// "EPERM (Operation not permitted)" for a negative errno as the C checks return it.
    static func errnoName(_ negative: Int32) -> String {
        "\(ErrnoNames.describe(-negative)) (\(String(cString: strerror(-negative))))"
    }

    static func seccompFilter() -> HostCheck {
        let kill = lpa_seccomp_action_available(LPA_SECCOMP_RET_KILL_PROCESS)
        let errno = lpa_seccomp_action_available(LPA_SECCOMP_RET_ERRNO)
        let ok = kill == 0 && errno == 0
        return HostCheck(name: "seccomp filters", ok: ok,
                         detail: ok ? "SECCOMP_RET_KILL_PROCESS and SECCOMP_RET_ERRNO available"
                             : "kill-process: \(kill == 0 ? "yes" : errnoName(kill)), errno: \(errno == 0 ? "yes" : errnoName(errno))",
                         fix: "use a kernel built with CONFIG_SECCOMP_FILTER=y (Linux 4.14+)")
    }

    static func seccompUserNotification() -> HostCheck {
        let rc = lpa_seccomp_action_available(LPA_SECCOMP_RET_USER_NOTIF)
        return HostCheck(name: "seccomp user notification", ok: rc == 0,
                         detail: rc == 0 ? "SECCOMP_RET_USER_NOTIF available" : errnoName(rc),
                         fix: "Linux 5.0+ is needed for SECCOMP_RET_USER_NOTIF (used by the audit log)",
                         required: false)
    }

    /// The kernel's Landlock ABI: 0 when it has none (or it is disabled).
    public static func landlockABI() -> Int { max(0, Int(lpa_landlock_abi_version())) }

    static func landlock() -> HostCheck {
        let v = lpa_landlock_abi_version()
        let fix = v == -EOPNOTSUPP
            ? "Landlock is built in but disabled: add `landlock` to the lsm= boot parameter"
            : "use a kernel with CONFIG_SECURITY_LANDLOCK=y (Linux 5.13+)"
        guard v > 0 else {
            return HostCheck(name: "Landlock", ok: false, detail: errnoName(v) + "; sandboxes run without the second "
                                 + "wall (best-effort) and `landlock: required` profiles refuse to start",
                             fix: fix, required: false)
        }
        let rights = LandlockAccess.known(abi: Int(v)).map(\.rawValue).joined(separator: " ")
        let scopes = v >= 6 ? "scopes signal abstract-unix-socket" : "no scopes (ABI 6 needed)"
        return HostCheck(name: "Landlock", ok: true,
                         detail: "ABI version \(v); lpa-run uses filesystem rights \(rights); \(scopes)", required: false)
    }

    static func tmpfsNoswap() -> HostCheck {
        let swap = MountSteps.activeSwap()
        let swapText = swap.map { "swap active (\($0))" } ?? "no active swap"
        if geteuid() == 0 && MountSteps.inInitialUserNamespace() {
            let rc = lpa_tmpfs_noswap_check()
            if rc == 0 {
                return HostCheck(name: "tmpfs noswap", ok: true, detail: "fsconfig(noswap) accepted (root); \(swapText)")
            }
            return HostCheck(name: "tmpfs noswap", ok: swap == nil,
                             detail: "fsconfig(noswap): \(errnoName(rc)); \(swapText)",
                             fix: "Linux 6.4+ has tmpfs noswap; or turn swap off (swapoff -a), or set `noswap: false` in the profile")
        }
        return HostCheck(name: "tmpfs noswap", ok: swap == nil,
                         detail: "unprivileged: the kernel refuses noswap inside user namespaces; \(swapText)"
                             + (swap == nil ? ", so sandbox tmpfs pages cannot reach disk" : ""),
                         fix: "sandboxes with `noswap: true` refuse to start while swap is active: swapoff -a, "
                             + "run lpa-run as root, or set `noswap: false` in the profile")
    }

    static let cgroup2Magic: Int = 0x6367_7270

    static func cgroupV2() -> HostCheck {
        let type = lpa_filesystem_type("/sys/fs/cgroup")
        let ok = type == cgroup2Magic
        return HostCheck(name: "cgroup v2", ok: ok,
                         detail: type < 0 ? "/sys/fs/cgroup: \(errnoName(Int32(type)))"
                             : ok ? "/sys/fs/cgroup is cgroup2" : "/sys/fs/cgroup is not cgroup2 (type 0x\(String(type, radix: 16)))",
                         fix: "boot with systemd.unified_cgroup_hierarchy=1 (not used by lpa-run yet)", required: false)
    }

    static func cgroupDelegation() -> HostCheck {
        let line = readSmallFile("/proc/self/cgroup")?.split(separator: "\n").first { $0.hasPrefix("0::") }
        guard let line else {
            return HostCheck(name: "delegated cgroup subtree", ok: false, detail: "no cgroup v2 entry in /proc/self/cgroup",
                             fix: "use cgroup v2", required: false)
        }
        let path = String(line.dropFirst(3))
        let procs = "/sys/fs/cgroup" + (path == "/" ? "" : path) + "/cgroup.procs"
        let ok = access(procs, W_OK) == 0
        return HostCheck(name: "delegated cgroup subtree", ok: ok,
                         detail: "\(procs) \(ok ? "is" : "is not") writable by this user",
                         fix: "run under a delegated scope: systemd-run --user --scope -p Delegate=yes lpa-run ... "
                             + "(not used by lpa-run yet)", required: false)
    }

    static func pidfd() -> HostCheck {
        let rc = lpa_pidfd_self_check()
        return HostCheck(name: "pidfd", ok: rc == 0, detail: rc == 0 ? "pidfd_open works" : errnoName(rc),
                         fix: "Linux 5.3+ has pidfd_open", required: false)
    }

    static func closeRange() -> HostCheck {
        let rc = lpa_close_range_check()
        return HostCheck(name: "close_range", ok: rc == 0, detail: rc == 0 ? "close_range(CLOSE_RANGE_CLOEXEC) works" : errnoName(rc),
                         fix: "Linux 5.11+ has close_range with CLOSE_RANGE_CLOEXEC; inherited descriptors cannot be closed without it")
    }

    static func libseccomp() -> HostCheck {
        guard let v = seccomp_version()?.pointee else {
            return HostCheck(name: "libseccomp", ok: false, detail: "version unknown", fix: "apt-get install libseccomp2")
        }
        let ok = v.major > 2 || (v.major == 2 && v.minor >= 5)
        return HostCheck(name: "libseccomp", ok: ok, detail: "\(v.major).\(v.minor).\(v.micro)",
                         fix: "libseccomp 2.5+ is needed (apt-get install libseccomp2)")
    }

    static func libcap() -> HostCheck {
        let bits = cap_max_bits()
        return HostCheck(name: "libcap", ok: bits > 0,
                         detail: "\(LIBCAP_MAJOR).\(LIBCAP_MINOR) (built against), cap_max_bits \(bits)",
                         fix: "apt-get install libcap2")
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\n" || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\n" || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}
