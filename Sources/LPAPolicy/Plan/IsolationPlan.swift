/// The isolation plan: the one seam between the policy compiler and the launcher.
///
/// Everything the launcher does comes from this value, and `--dry-run --format json`
/// prints exactly this value encoded, so what a user tests is what runs.
/// The JSON form is documented in docs/plan.md; bump `formatVersion` on any
/// incompatible change.
public struct IsolationPlan: Codable, Equatable, Sendable {
    public static let formatVersion = 2

    public var version: Int
    public var command: CommandPlan
    public var namespaces: [Namespace]
    public var identity: Identity
    public var hostname: String
    /// Working directory inside the sandbox.
    public var workingDirectory: String
    /// Applied in order, after the fresh tmpfs root exists.
    public var mounts: [MountEntry]
    public var network: NetworkPlan
    public var seccomp: SeccompPlan
    /// Which calls the filter hands to lpa-run's supervisor to be logged, and the answer.
    public var audit: AuditPlan
    public var capabilities: CapabilityPlan
    /// Always true: a setuid binary inside must never regain privileges.
    public var noNewPrivs: Bool
    public var rlimits: [RlimitEntry]
    public var environment: EnvironmentPlan
    public var models: [ModelPin]
    /// Files verified by SHA-256 before anything starts (models with a sha256 too).
    public var pins: PinPlan
    /// The workload's Landlock ruleset: the second wall (LandlockPlan).
    public var landlock: LandlockPlan
    /// `namespaces` (the sandbox), or `landlock`: the degraded mode without namespaces
    /// (`--isolation landlock`), whose losses `degraded` states.
    public var isolation: IsolationMode
    public var degraded: DegradedPlan?
    public var profile: ProfileChain

    public init(
        version: Int = IsolationPlan.formatVersion,
        command: CommandPlan,
        namespaces: [Namespace],
        identity: Identity,
        hostname: String,
        workingDirectory: String,
        mounts: [MountEntry],
        network: NetworkPlan,
        seccomp: SeccompPlan,
        audit: AuditPlan = AuditPlan(),
        capabilities: CapabilityPlan,
        noNewPrivs: Bool = true,
        rlimits: [RlimitEntry],
        environment: EnvironmentPlan,
        models: [ModelPin],
        pins: PinPlan = PinPlan(),
        landlock: LandlockPlan = LandlockPlan(mode: .off, abi: nil, handled: [], scopes: [], rules: []),
        isolation: IsolationMode = .namespaces,
        degraded: DegradedPlan? = nil,
        profile: ProfileChain
    ) {
        self.version = version
        self.command = command
        self.namespaces = namespaces
        self.identity = identity
        self.hostname = hostname
        self.workingDirectory = workingDirectory
        self.mounts = mounts
        self.network = network
        self.seccomp = seccomp
        self.audit = audit
        self.capabilities = capabilities
        self.noNewPrivs = noNewPrivs
        self.rlimits = rlimits
        self.environment = environment
        self.models = models
        self.pins = pins
        self.landlock = landlock
        self.isolation = isolation
        self.degraded = degraded
        self.profile = profile
    }
}

/// Where a setting came from, so a user can see why something is allowed.
/// A profile line; or `command line` with `line` the option's position in lpa-run's
/// argv and `detail` the option as typed; or `automatic` with `detail` the reason.
public struct Origin: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    public static let commandLine = "command line"
    public static let automatic = "automatic"

    public var file: String
    public var line: Int
    /// Absent for profile lines (the JSON omits it).
    public var detail: String?
    public init(file: String, line: Int, detail: String? = nil) {
        self.file = file
        self.line = line
        self.detail = detail
    }
    public var description: String {
        switch (file, detail) {
        case (Self.automatic, let detail?): "automatic: \(detail)"
        case (Self.commandLine, let detail?): "command line, argv[\(line)]: \(detail)"
        case (_, let detail?): "\(file):\(line): \(detail)"
        // A command-line option (`--model`) has no line.
        default: line == 0 ? file : "\(file):\(line)"
        }
    }
}

public struct CommandPlan: Codable, Equatable, Sendable {
    /// argv exactly as given, argv[0] included.
    public var argv: [String]
    /// Absolute path of the executable, or nil when it could not be resolved
    /// (dry-run still prints the plan; a real run exits 127).
    public var executable: String?
    public var resolved: Bool { executable != nil }

    public init(argv: [String], executable: String?) {
        self.argv = argv
        self.executable = executable
    }

    enum CodingKeys: String, CodingKey { case argv, executable, resolved }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        argv = try c.decode([String].self, forKey: .argv)
        executable = try c.decodeIfPresent(String.self, forKey: .executable)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(argv, forKey: .argv)
        try c.encode(executable, forKey: .executable)
        try c.encode(resolved, forKey: .resolved)
    }
}

public enum Namespace: String, Codable, CaseIterable, Sendable, Comparable {
    case user, mount, pid, net, ipc, uts, cgroup
    public static func < (a: Namespace, b: Namespace) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

public struct Identity: Codable, Equatable, Sendable {
    public enum RunAs: String, Codable, Sendable, CaseIterable { case caller, root }
    public var runAs: RunAs
    /// The host ids the sandbox user is (the caller's; for a root caller the sudo user's
    /// or nobody's, never 0: see IdentityCompiler), and the ids inside the user namespace.
    public var uid: UInt32
    public var gid: UInt32
    public var sandboxUid: UInt32
    public var sandboxGid: UInt32
    public init(runAs: RunAs, uid: UInt32, gid: UInt32) {
        self.runAs = runAs
        self.uid = uid
        self.gid = gid
        self.sandboxUid = runAs == .root ? 0 : uid
        self.sandboxGid = runAs == .root ? 0 : gid
    }
}

/// One step of the filesystem plan. Targets are absolute paths inside the sandbox;
/// sources are absolute paths on the host.
public struct MountEntry: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// Bind a host path (recursive).
        case bind
        /// Bind host device nodes (source may be a glob such as /dev/nvidia* when the
        /// compiler could not look at the host; `lpa-run` expands it before printing).
        case device
        /// A fresh tmpfs (`size`, `mode`, `noswap`).
        case tmpfs
        /// A fresh /proc for the new pid namespace.
        case proc
        /// A new devpts instance (no access to the host's terminals).
        case devpts
        /// A symbolic link at `target` whose text is `source`.
        case symlink
        /// Bind a path of the sandbox over itself with `options` (read-only /proc/sys
        /// and friends, so host root inside cannot reach host kernel settings).
        case protect
        /// Hide a host path that a broader bind exposed (empty read-only tmpfs or /dev/null).
        case hide
        /// A file lpa-run writes, whose text is `source`, bound read-only at `target`
        /// (a link there is covered, not followed): /etc/resolv.conf for the DNS sink.
        case file
    }
    public var kind: Kind
    public var source: String?
    public var target: String
    public var options: MountOptions
    /// A missing source is skipped instead of stopping the run (profile said `optional`).
    public var optional: Bool
    /// The launcher binds this path from the descriptor it hashed and checks the
    /// mounted inode is that file (pinned files, files of pinned directories, the
    /// pinned executable).
    public var verified: Bool
    /// Which profile line asked for this entry (nil for the built-in skeleton).
    public var origin: Origin?

    public init(kind: Kind, source: String? = nil, target: String, options: MountOptions = MountOptions(),
                optional: Bool = false, verified: Bool = false, origin: Origin? = nil) {
        self.kind = kind
        self.source = source
        self.target = target
        self.options = options
        self.optional = optional
        self.verified = verified
        self.origin = origin
    }

    public var isReadOnly: Bool { options.readOnly }

    enum CodingKeys: String, CodingKey { case kind, source, target, options, optional, verified, origin }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(Kind.self, forKey: .kind)
        source = try c.decodeIfPresent(String.self, forKey: .source)
        target = try c.decode(String.self, forKey: .target)
        options = try c.decode(MountOptions.self, forKey: .options)
        optional = try c.decode(Bool.self, forKey: .optional)
        verified = try c.decodeIfPresent(Bool.self, forKey: .verified) ?? false
        origin = try c.decodeIfPresent(Origin.self, forKey: .origin)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(source, forKey: .source)
        try c.encode(target, forKey: .target)
        try c.encode(options, forKey: .options)
        try c.encode(optional, forKey: .optional)
        if verified { try c.encode(verified, forKey: .verified) }
        try c.encodeIfPresent(origin, forKey: .origin)
    }
}

/// Mount flags and tmpfs settings as typed values: the compiler decides them, the
/// launcher maps them to MS_*/MOUNT_ATTR_* and tmpfs parameters without parsing text.
public struct MountOptions: Codable, Equatable, Sendable {
    public var readOnly: Bool
    public var noSuid: Bool
    public var noDev: Bool
    public var noExec: Bool
    /// tmpfs: its pages must never reach a swap device.
    public var noswap: Bool
    /// tmpfs: the size limit in bytes.
    public var size: UInt64?
    /// tmpfs: the root directory's permission bits.
    public var mode: UInt32?

    public init(readOnly: Bool = false, noSuid: Bool = true, noDev: Bool = true, noExec: Bool = false,
                noswap: Bool = false, size: UInt64? = nil, mode: UInt32? = nil) {
        self.readOnly = readOnly
        self.noSuid = noSuid
        self.noDev = noDev
        self.noExec = noExec
        self.noswap = noswap
        self.size = size
        self.mode = mode
    }

    public static let readOnlyBind = MountOptions(readOnly: true)
    public static let readWriteBind = MountOptions()

    /// The short form people read in `--dry-run` text: "ro,nosuid,nodev,size=1G,mode=0700".
    public var summary: String {
        var words = [readOnly ? "ro" : "rw"]
        if noSuid { words.append("nosuid") }
        if noDev { words.append("nodev") }
        if noExec { words.append("noexec") }
        if noswap { words.append("noswap") }
        if let size { words.append("size=\(size)") }
        if let mode { words.append("mode=" + Self.octal(mode)) }
        return words.joined(separator: ",")
    }

    /// "0755", "1777": four octal digits, as mount(8) and chmod(1) write them.
    public static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    enum CodingKeys: String, CodingKey { case readOnly, noSuid, noDev, noExec, noswap, size, mode }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        readOnly = try c.decode(Bool.self, forKey: .readOnly)
        noSuid = try c.decode(Bool.self, forKey: .noSuid)
        noDev = try c.decode(Bool.self, forKey: .noDev)
        noExec = try c.decode(Bool.self, forKey: .noExec)
        noswap = try c.decode(Bool.self, forKey: .noswap)
        size = try c.decodeIfPresent(UInt64.self, forKey: .size)
        mode = try c.decodeIfPresent(String.self, forKey: .mode).flatMap { UInt32($0, radix: 8) }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(readOnly, forKey: .readOnly)
        try c.encode(noSuid, forKey: .noSuid)
        try c.encode(noDev, forKey: .noDev)
        try c.encode(noExec, forKey: .noExec)
        try c.encode(noswap, forKey: .noswap)
        try c.encodeIfPresent(size, forKey: .size)
        // Octal text: "1777" reads as a mode, 1023 does not.
        try c.encodeIfPresent(mode.map(Self.octal), forKey: .mode)
    }
}

public struct NetworkPlan: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// A fresh network namespace with only loopback, brought up.
        case none
        /// The host's network: only by explicit choice.
        case host
    }
    public var mode: Mode
    /// `network: dns`: what answers name lookups inside.
    public enum DNSMode: String, Codable, Sendable, CaseIterable {
        /// A resolver of the sandbox's own on 127.0.0.1:53 (UDP and TCP, served by
        /// lpa-run: relay.c, dns.c) answers every query NXDOMAIN at once, never forwards,
        /// and logs the name: where the workload wanted to go, instead of a lookup that
        /// fails with ENETUNREACH or waits out a timeout. Only with a network namespace.
        case sink
        /// The host's /etc/resolv.conf, unchanged (with mode `none` nothing answers).
        case host
    }
    public var dns: DNSMode
    /// The sandbox's /etc/resolv.conf with the sink: its one nameserver, no search list
    /// (a name is asked once, as written). The sink answers at once, so the timeout
    /// only matters to a workload that sends elsewhere.
    public static let sinkResolvConf = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
    public var publish: [PublishedPort]
    public var connect: [HostEndpoint]
    /// `-p unix:HOST_PATH:SANDBOX_PORT`: host unix sockets relayed to sandbox ports.
    public var publishSockets: [PublishedSocket]
    /// `--connect unix:HOST_PATH[:SANDBOX_PATH]`: host unix sockets reachable inside.
    public var connectSockets: [SocketEndpoint]
    /// `network: max-connections`: connections the relay (relay.c) serves at once per
    /// published port and per host endpoint; a client beyond it is closed at once.
    public var maxConnections: Int
    /// `network: idle-timeout`: a relayed connection that moves no byte in either
    /// direction for this long is closed (0: never), so silent clients do not hold slots.
    public var idleTimeoutMilliseconds: UInt64

    /// The relay's defaults (relay.c's LPA_RELAY_CONNECTIONS_DEFAULT and
    /// LPA_RELAY_IDLE_TIMEOUT_DEFAULT_MS hold the same numbers): 512 connections of two
    /// sockets and two pipes each, and 5 minutes, longer than any pause in a streamed
    /// answer or a keep-alive interval a client is likely to use.
    public static let defaultMaxConnections = 512
    public static let maxConnectionsLimit = 16384
    public static let defaultIdleTimeoutMilliseconds: UInt64 = 300_000

    public init(mode: Mode, dns: DNSMode? = nil, publish: [PublishedPort] = [], connect: [HostEndpoint] = [],
                publishSockets: [PublishedSocket] = [], connectSockets: [SocketEndpoint] = [],
                maxConnections: Int = NetworkPlan.defaultMaxConnections,
                idleTimeoutMilliseconds: UInt64 = NetworkPlan.defaultIdleTimeoutMilliseconds) {
        self.mode = mode
        self.dns = dns ?? (mode == .none ? .sink : .host)
        self.publish = publish
        self.connect = connect
        self.publishSockets = publishSockets
        self.connectSockets = connectSockets
        self.maxConnections = maxConnections
        self.idleTimeoutMilliseconds = idleTimeoutMilliseconds
    }

    private enum CodingKeys: String, CodingKey {
        case mode, dns, publish, connect, publishSockets, connectSockets, maxConnections, idleTimeoutMilliseconds
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mode = try c.decode(Mode.self, forKey: .mode)
        // Plans written before the key: the host's resolver, as they ran.
        dns = try c.decodeIfPresent(DNSMode.self, forKey: .dns) ?? .host
        publish = try c.decode([PublishedPort].self, forKey: .publish)
        connect = try c.decode([HostEndpoint].self, forKey: .connect)
        publishSockets = try c.decodeIfPresent([PublishedSocket].self, forKey: .publishSockets) ?? []
        connectSockets = try c.decodeIfPresent([SocketEndpoint].self, forKey: .connectSockets) ?? []
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? Self.defaultMaxConnections
        idleTimeoutMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .idleTimeoutMilliseconds)
            ?? Self.defaultIdleTimeoutMilliseconds
    }

    /// The unix-socket lists only when used: plans without them read as before.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mode, forKey: .mode)
        try c.encode(dns, forKey: .dns)
        try c.encode(publish, forKey: .publish)
        try c.encode(connect, forKey: .connect)
        if !publishSockets.isEmpty { try c.encode(publishSockets, forKey: .publishSockets) }
        if !connectSockets.isEmpty { try c.encode(connectSockets, forKey: .connectSockets) }
        // The relay limits only when a profile changed them: plans with the defaults read as before.
        if maxConnections != Self.defaultMaxConnections { try c.encode(maxConnections, forKey: .maxConnections) }
        if idleTimeoutMilliseconds != Self.defaultIdleTimeoutMilliseconds {
            try c.encode(idleTimeoutMilliseconds, forKey: .idleTimeoutMilliseconds)
        }
    }

    /// A duration as a profile would write it: 300s, 5m, 1500ms.
    public static func describe(milliseconds: UInt64) -> String {
        if milliseconds % 3_600_000 == 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }

    /// Everything the relay serves.
    public var hasRelays: Bool {
        !publish.isEmpty || !connect.isEmpty || !publishSockets.isEmpty || !connectSockets.isEmpty
    }
}

/// A unix socket lpa-run creates on the host (mode 0600, owned by the caller) whose
/// connections go to 127.0.0.1:sandboxPort inside. Removed at exit if it is still the
/// socket lpa-run made.
public struct PublishedSocket: Codable, Equatable, Sendable {
    public var hostPath: String
    public var sandboxPort: UInt16
    public var origin: Origin?
    public init(hostPath: String, sandboxPort: UInt16, origin: Origin? = nil) {
        self.hostPath = hostPath
        self.sandboxPort = sandboxPort
        self.origin = origin
    }
}

/// A host unix socket the sandbox may reach: the init listens at sandboxPath (on one of
/// the sandbox's tmpfs mounts) and lpa-run relays each connection to the host socket,
/// which it opened once at start (the sandbox cannot redirect it to another socket).
/// Never a bind of the host socket or its directory.
public struct SocketEndpoint: Codable, Equatable, Sendable {
    public var hostPath: String
    public var sandboxPath: String
    public var origin: Origin?
    public init(hostPath: String, sandboxPath: String, origin: Origin? = nil) {
        self.hostPath = hostPath
        self.sandboxPath = sandboxPath
        self.origin = origin
    }
}

/// host address:port → 127.0.0.1:sandboxPort inside (inbound only).
public struct PublishedPort: Codable, Equatable, Sendable {
    public var hostAddress: IPAddress
    public var hostPort: UInt16
    public var sandboxPort: UInt16
    public var origin: Origin?
    public init(hostAddress: IPAddress, hostPort: UInt16, sandboxPort: UInt16, origin: Origin? = nil) {
        self.hostAddress = hostAddress
        self.hostPort = hostPort
        self.sandboxPort = sandboxPort
        self.origin = origin
    }
}

/// A host loopback endpoint the sandbox may reach: 127.0.0.1:sandboxPort inside
/// is relayed to hostAddress:hostPort.
public struct HostEndpoint: Codable, Equatable, Sendable {
    public var hostAddress: IPAddress
    public var hostPort: UInt16
    public var sandboxPort: UInt16
    public var origin: Origin?
    public init(hostAddress: IPAddress, hostPort: UInt16, sandboxPort: UInt16, origin: Origin? = nil) {
        self.hostAddress = hostAddress
        self.hostPort = hostPort
        self.sandboxPort = sandboxPort
        self.origin = origin
    }
}

public struct CapabilityPlan: Codable, Equatable, Sendable {
    /// Capabilities kept in every set; everything else is dropped from the bounding,
    /// permitted, effective, inheritable and ambient sets.
    public var keep: [Capability]
    public init(keep: [Capability]) { self.keep = keep }
}

public struct Capability: Codable, Equatable, Sendable {
    public var name: String
    public var number: Int32
    public init(name: String, number: Int32) {
        self.name = name
        self.number = number
    }
}

public struct RlimitEntry: Codable, Equatable, Sendable {
    /// Lower-case resource name without the RLIMIT_ prefix: core, nofile, nproc, as, ...
    public var resource: String
    /// The RLIMIT_* number on this platform.
    public var number: Int32
    /// nil means unlimited.
    public var soft: UInt64?
    public var hard: UInt64?
    public var origin: Origin?
    public init(resource: String, number: Int32, soft: UInt64?, hard: UInt64?, origin: Origin? = nil) {
        self.resource = resource
        self.number = number
        self.soft = soft
        self.hard = hard
        self.origin = origin
    }
}

public struct EnvironmentPlan: Codable, Equatable, Sendable {
    public struct Variable: Codable, Equatable, Sendable {
        public var name: String
        public var value: String
        public var origin: Origin?
        public init(name: String, value: String, origin: Origin? = nil) {
            self.name = name
            self.value = value
            self.origin = origin
        }
    }
    /// The complete environment of the workload, in this order.
    public var set: [Variable]
    /// Host variables that were not passed in: names only, never values.
    public var dropped: [String]
    public init(set: [Variable], dropped: [String]) {
        self.set = set
        self.dropped = dropped
    }
}

public struct ModelPin: Codable, Equatable, Sendable {
    public var path: String
    /// Lower-case hex SHA-256, or nil when the model is only mounted, not pinned.
    public var sha256: String?
    public var origin: Origin?
    public init(path: String, sha256: String?, origin: Origin? = nil) {
        self.path = path
        self.sha256 = sha256
        self.origin = origin
    }
}

/// Supply-chain pins: the launcher hashes each file through one descriptor, refuses
/// to start on any mismatch, and binds the sandbox path from that same descriptor,
/// so a file swapped after the check is never the one used.
public struct PinPlan: Codable, Equatable, Sendable {
    /// The resolved command (`command.executable`), or nil when it is not pinned.
    public var executable: ExecutablePin?
    /// Single files, bound read-only at the same path.
    public var files: [FilePin]
    /// Directories bound read-only whose every regular file must be listed and match.
    public var directories: [DirectoryPin]

    public init(executable: ExecutablePin? = nil, files: [FilePin] = [], directories: [DirectoryPin] = []) {
        self.executable = executable
        self.files = files
        self.directories = directories
    }

    public var isEmpty: Bool { executable == nil && files.isEmpty && directories.isEmpty }
}

public struct ExecutablePin: Codable, Equatable, Sendable {
    /// Lower-case hex SHA-256.
    public var sha256: String
    public var origin: Origin?
    public init(sha256: String, origin: Origin? = nil) {
        self.sha256 = sha256
        self.origin = origin
    }
}

public struct FilePin: Codable, Equatable, Sendable {
    /// Absolute on the host, and the same path inside; relative inside a `DirectoryPin`.
    public var path: String
    /// Lower-case hex SHA-256.
    public var sha256: String
    public var origin: Origin?
    public init(path: String, sha256: String, origin: Origin? = nil) {
        self.path = path
        self.sha256 = sha256
        self.origin = origin
    }
}

public struct DirectoryPin: Codable, Equatable, Sendable {
    public var path: String
    /// Relative paths (no leading '/', no '..') sorted by path: the complete manifest.
    public var files: [FilePin]
    public var origin: Origin?
    public init(path: String, files: [FilePin], origin: Origin? = nil) {
        self.path = path
        self.files = files
        self.origin = origin
    }
}

public struct ProfileChain: Codable, Equatable, Sendable {
    public struct Link: Codable, Equatable, Sendable {
        public var name: String
        /// A file path, or "builtin:NAME" for an embedded profile.
        public var source: String
        public init(name: String, source: String) {
            self.name = name
            self.source = source
        }
    }
    /// The profile asked for first, then its parents in resolution order.
    public var chain: [Link]
    public var description: String
    /// "sha256:HEX" of the canonical JSON of the effective plan minus command,
    /// identity and environment values: equal digests mean equal policy.
    public var digest: String
    public init(chain: [Link], description: String, digest: String) {
        self.chain = chain
        self.description = description
        self.digest = digest
    }
}
