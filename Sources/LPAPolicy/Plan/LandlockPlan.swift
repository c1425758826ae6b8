/// The Landlock ruleset the workload restricts itself with, after the mounts and
/// before seccomp: the second wall. The mount namespace decides what exists in the
/// sandbox; Landlock decides, on top of it, what the workload may do beneath each
/// path. Rules are "beneath" hierarchies and only add rights, so Landlock cannot
/// subtract a hidden path from a readable tree: hides are the mount wall's job.
public struct LandlockPlan: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// No Landlock ruleset on this kernel: the run exits 125.
        case required
        /// Whatever the kernel's ABI allows; without Landlock the run goes on without it.
        case bestEffort = "best-effort"
        /// No filesystem ruleset (the signal and abstract-socket scopes still apply).
        case off
    }

    public var mode: Mode
    /// The host's Landlock ABI when lpa-run compiled the plan (0: no Landlock), nil when
    /// the compiler could not ask the kernel (tests, goldens): then nothing is masked.
    public var abi: Int?
    /// The filesystem rights the ruleset handles (denied unless a rule grants them).
    public var handled: [LandlockAccess]
    /// LANDLOCK_SCOPE_* (ABI 6): "signal", "abstract-unix-socket".
    public var scopes: [String]
    public var rules: [LandlockRule]

    public init(mode: Mode, abi: Int?, handled: [LandlockAccess], scopes: [String], rules: [LandlockRule]) {
        self.mode = mode
        self.abi = abi
        self.handled = handled
        self.scopes = scopes
        self.rules = rules
    }

    /// Whether a ruleset with filesystem rules is applied on this host.
    public var active: Bool { mode != .off && abi != 0 }
}

/// One LANDLOCK_RULE_PATH_BENEATH rule: `access` beneath `path` (inside the sandbox).
public struct LandlockRule: Codable, Equatable, Sendable {
    public var path: String
    public var access: [LandlockAccess]
    /// The mount entry it comes from (its index in `mounts`), nil for the root. The
    /// launcher applies the rule to every path that entry became (device globs), and
    /// skips it when the entry was skipped (a missing optional source).
    public var mount: Int?
    public var optional: Bool

    public init(path: String, access: [LandlockAccess], mount: Int?, optional: Bool = false) {
        self.path = path
        self.access = access
        self.mount = mount
        self.optional = optional
    }
}

/// LANDLOCK_ACCESS_FS_*, in bit order.
public enum LandlockAccess: String, Codable, Sendable, CaseIterable {
    case execute, writeFile = "write-file", readFile = "read-file", readDir = "read-dir"
    case removeDir = "remove-dir", removeFile = "remove-file", makeChar = "make-char", makeDir = "make-dir"
    case makeReg = "make-reg", makeSock = "make-sock", makeFifo = "make-fifo", makeBlock = "make-block"
    case makeSym = "make-sym", refer, truncate, ioctlDev = "ioctl-dev"

    public var bit: UInt64 { 1 << UInt64(Self.allCases.firstIndex(of: self)!) }

    /// The first Landlock ABI that knows this right.
    public var abi: Int {
        switch self {
        case .refer: 2
        case .truncate: 3
        case .ioctlDev: 5
        default: 1
        }
    }

    /// The rights a rule on a file (not a directory) may carry; others are EINVAL.
    public static let fileRights: Set<LandlockAccess> = [.execute, .writeFile, .readFile, .truncate, .ioctlDev]

    /// The rights an ABI knows (nil: all of them).
    public static func known(abi: Int?) -> [LandlockAccess] {
        allCases.filter { abi == nil || $0.abi <= abi! }
    }

    public static func mask(_ rights: [LandlockAccess]) -> UInt64 { rights.reduce(0) { $0 | $1.bit } }
}
