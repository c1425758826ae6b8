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
    /// TCP port rules (ABI 4): which ports the workload may bind and connect to.
    public var network: LandlockNetwork

    public init(mode: Mode, abi: Int?, handled: [LandlockAccess], scopes: [String], rules: [LandlockRule],
                network: LandlockNetwork = LandlockNetwork()) {
        self.mode = mode
        self.abi = abi
        self.handled = handled
        self.scopes = scopes
        self.rules = rules
        self.network = network
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

    /// Read and write beneath a path: tmpfs mounts, read-write binds, the degraded
    /// mode's private directory. No device nodes.
    public static let readWrite: [LandlockAccess] = [
        .execute, .writeFile, .readFile, .readDir, .removeDir, .removeFile, .makeDir, .makeReg, .makeSock,
        .makeFifo, .makeSym, .refer, .truncate, .ioctlDev,
    ]

    /// The rights a rule on a file (not a directory) may carry; others are EINVAL.
    public static let fileRights: Set<LandlockAccess> = [.execute, .writeFile, .readFile, .truncate, .ioctlDev]

    /// The rights an ABI knows (nil: all of them).
    public static func known(abi: Int?) -> [LandlockAccess] {
        allCases.filter { abi == nil || $0.abi <= abi! }
    }

    public static func mask(_ rights: [LandlockAccess]) -> UInt64 { rights.reduce(0) { $0 | $1.bit } }
}

/// The TCP side of the ruleset (LANDLOCK_RULE_NET_PORT, ABI 4). A direction set to
/// `any` is not handled at all; a port list is: bind(2) or connect(2) to any other
/// TCP port fails with EACCES. Only TCP: Landlock does not see UDP or unix sockets.
public struct LandlockNetwork: Codable, Equatable, Sendable {
    /// What the ruleset handles on this host: "bind-tcp", "connect-tcp" for the
    /// directions that are port lists, empty when the ABI is below 4.
    public var handled: [String]
    public var bind: LandlockPorts
    public var connect: LandlockPorts

    public init(handled: [String] = [], bind: LandlockPorts = .any, connect: LandlockPorts = .any) {
        self.handled = handled
        self.bind = bind
        self.connect = connect
    }

    /// The first ABI with TCP rules.
    public static let abi = 4
}

/// `any`, or exactly these ports (sorted, no duplicates; 0 lets bind(2) pick an
/// ephemeral port). JSON: the string "any" or an array of numbers.
public enum LandlockPorts: Codable, Equatable, Sendable {
    case any
    case only([UInt16])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let ports = try? container.decode([UInt16].self) {
            self = .only(ports)
        } else if try container.decode(String.self) == "any" {
            self = .any
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected \"any\" or a list of ports")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .any: try container.encode("any")
        case .only(let ports): try container.encode(ports)
        }
    }

    /// These ports added to a list (published or --connect ports); `any` stays `any`.
    public func adding(_ ports: [UInt16]) -> LandlockPorts {
        switch self {
        case .any: .any
        case .only(let listed): .only(Array(Set(listed + ports)).sorted())
        }
    }

    public var text: String {
        switch self {
        case .any: "any"
        case .only(let ports): ports.isEmpty ? "none" : ports.map(String.init).joined(separator: " ")
        }
    }
}
