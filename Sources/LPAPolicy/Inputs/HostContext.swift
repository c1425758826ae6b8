/// What the compiler may know about the host: passed in, never read from the
/// process, so a compilation is a pure function of its inputs.
public struct HostContext: Sendable {
    /// The caller's environment; HOME, USER, XDG_* and TMPDIR come from here.
    public var environment: [String: String]
    /// The caller's working directory (absolute).
    public var cwd: String
    public var uid: UInt32
    public var gid: UInt32
    /// The device nodes a pattern such as /dev/nvidia* matches on this host, when the
    /// caller can look (lpa-run globs); nil keeps patterns in the plan (tests, goldens)
    /// and the launcher expands them.
    public var devices: (@Sendable (String) -> [String])?
    /// A path with every link resolved (what the launcher would bind), nil when it does
    /// not exist; when the caller can look (lpa-run). nil skips the check through links.
    public var resolveLinks: (@Sendable (String) -> String?)?
    /// Unix socket files at or under a bind source, when the caller can look (lpa-run
    /// searches, bounded: see its HostFacts); nil skips the check (tests, goldens), so a
    /// compilation stays a pure function of its inputs. A read-only bind does not stop
    /// connect(): ssh-agent, gpg-agent, X11, D-Bus or docker sockets under a bind would
    /// be reachable with the caller's credentials.
    public var unixSockets: (@Sendable (String) -> [String])?
    /// The kernel's Landlock ABI (0: no Landlock), when the caller asked it (lpa-run);
    /// nil leaves the plan unmasked (tests, goldens).
    public var landlockABI: Int?
    /// What a host path is, never following a link at its last component (lstat); nil
    /// when it does not exist. When the caller can look (lpa-run); nil skips what needs
    /// it: virtual environments, model arguments, arguments the sandbox cannot see.
    public var pathKind: (@Sendable (String) -> HostPathKind?)?
    /// The interpreter a script's `#!` line names (its first word), read from a regular
    /// file only, never through a link, and at most a few hundred bytes: the script may
    /// be hostile. When the caller can look (lpa-run).
    public var shebang: (@Sendable (String) -> String?)?

    public init(environment: [String: String], cwd: String, uid: UInt32, gid: UInt32,
                devices: (@Sendable (String) -> [String])? = nil,
                resolveLinks: (@Sendable (String) -> String?)? = nil,
                unixSockets: (@Sendable (String) -> [String])? = nil,
                landlockABI: Int? = nil,
                pathKind: (@Sendable (String) -> HostPathKind?)? = nil,
                shebang: (@Sendable (String) -> String?)? = nil) {
        self.landlockABI = landlockABI
        self.pathKind = pathKind
        self.shebang = shebang
        self.environment = environment
        self.cwd = cwd
        self.uid = uid
        self.gid = gid
        self.devices = devices
        self.resolveLinks = resolveLinks
        self.unixSockets = unixSockets
    }

    /// The caller's home: $HOME, else "/" (a home-less service account).
    var home: String {
        guard let home = environment["HOME"], !home.isEmpty else { return "/" }
        return home
    }

    /// An absolute XDG base directory: the variable when it is absolute (the XDG spec
    /// ignores relative values), else HOME/`fallback`.
    func xdgDirectory(_ name: String, fallback: String) -> String {
        if let value = environment[name], value.hasPrefix("/") { return PathNormalizer.collapsed(value) }
        return PathNormalizer.collapsed(home + "/" + fallback)
    }

    /// lpa-run's own trust anchors: where it finds profiles by name and the verification
    /// cache that vouches for pinned files. A sandbox that could write them would weaken
    /// every later run, so every sandbox has them masked and no working-directory bind
    /// may cover them.
    /// The default locations count too when XDG variables point elsewhere: a later run
    /// without those variables would read them.
    var trustAnchors: [String] {
        var anchors = [xdgDirectory("XDG_CONFIG_HOME", fallback: ".config") + "/lpa-run",
                       xdgDirectory("XDG_CACHE_HOME", fallback: ".cache") + "/lpa-run"]
        if home != "/" {
            for fallback in ["/.config/lpa-run", "/.cache/lpa-run"]
            where !anchors.contains(PathNormalizer.collapsed(home + fallback)) {
                anchors.append(PathNormalizer.collapsed(home + fallback))
            }
        }
        return anchors + ["/etc/lpa-run"]
    }
}

/// What `lstat` says a host path is.
public enum HostPathKind: Sendable, Equatable {
    case file, directory, link, other
}

/// `--ro PATH[:TARGET]`, `--rw PATH[:TARGET]` or `--tmpfs PATH[:SIZE]`, as typed, with
/// the option's position in lpa-run's argv (0 is lpa-run itself) for provenance and errors.
public struct CommandLineBind: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case readOnly = "--ro", readWrite = "--rw", tmpfs = "--tmpfs"
    }
    public var kind: Kind
    public var value: String
    public var position: Int

    public init(_ kind: Kind, _ value: String, position: Int) {
        self.kind = kind
        self.value = value
        self.position = position
    }
}

/// Settings given on the command line; they apply after every profile.
public struct CommandLineOverrides: Sendable {
    /// --publish [HOST_IP:]HOST_PORT:SANDBOX_PORT or unix:HOST_PATH:SANDBOX_PORT
    public var publish: [String]
    /// --connect HOST:PORT[:SANDBOX_PORT] or unix:HOST_PATH[:SANDBOX_PATH]
    public var connect: [String]
    /// --env NAME (copy the host value, secrets included) or NAME=VALUE.
    public var env: [String]
    /// --allow-non-loopback-publish: the user accepts exposure beyond this machine.
    public var allowNonLoopbackPublish: Bool
    /// --hostname
    public var hostname: String?
    /// --model FILE: model files bound read-only (relative to the working directory).
    public var models: [String]
    /// --ro, --rw and --tmpfs in argv order: mounted after every profile mount.
    public var binds: [CommandLineBind]
    /// Position of the command's first word in lpa-run's argv (0: unknown), so that a
    /// model argument's provenance can name its word.
    public var commandPosition: Int
    /// --isolation namespaces|landlock (nil: the profile's, else namespaces).
    public var isolation: IsolationMode?

    public init(publish: [String] = [], connect: [String] = [], env: [String] = [],
                allowNonLoopbackPublish: Bool = false, hostname: String? = nil, models: [String] = [],
                binds: [CommandLineBind] = [], commandPosition: Int = 0, isolation: IsolationMode? = nil) {
        self.isolation = isolation
        self.models = models
        self.binds = binds
        self.commandPosition = commandPosition
        self.publish = publish
        self.connect = connect
        self.env = env
        self.allowNonLoopbackPublish = allowNonLoopbackPublish
        self.hostname = hostname
    }
}
