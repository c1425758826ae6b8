/// How the workload is isolated. `namespaces` is lpa-run's sandbox; `landlock` is the
/// degraded mode for hosts where user namespaces cannot be made (AppArmor's
/// restriction on Ubuntu 23.10+, a container's seccomp filter): opt-in only
/// (`--isolation landlock` or `isolation: landlock`), never a silent fallback.
public enum IsolationMode: String, Codable, Sendable, CaseIterable {
    case namespaces
    case landlock
}

/// The degraded mode's own part of the plan: what it cannot protect, stated, and the
/// extra seccomp rules it adds (a second filter on top of the profile's).
public struct DegradedPlan: Codable, Equatable, Sendable {
    /// Each a sentence: printed by --dry-run and on stderr at start-up.
    public var losses: [String]
    /// The parent of the private directory HOME, TMPDIR and XDG_* point to: the
    /// caller's $XDG_RUNTIME_DIR (a tmpfs on systemd hosts); nil when unset, and then
    /// a run is refused.
    public var privateParent: String?
    /// socket(AF_INET/AF_INET6) of any kind but TCP, and io_uring (whose sockets
    /// bypass seccomp), fail: no UDP, no DNS, no raw sockets.
    public var seccomp: SeccompPlan

    public init(losses: [String], privateParent: String?, seccomp: SeccompPlan) {
        self.losses = losses
        self.privateParent = privateParent
        self.seccomp = seccomp
    }

    /// Where the private directory stands in the plan (environment, working directory):
    /// the launcher creates it at run time and writes its path there.
    public static let placeholder = "${LPA_PRIVATE_DIR}"

    /// The variables that point into the private directory, with the subdirectory each
    /// gets ("" is the directory itself).
    public static let privateVariables: [(name: String, subdirectory: String)] = [
        ("HOME", ""), ("TMPDIR", "tmp"), ("XDG_CACHE_HOME", ".cache"), ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"), ("XDG_STATE_HOME", ".local/state"), ("XDG_RUNTIME_DIR", "run"),
    ]
}
