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

    public init(environment: [String: String], cwd: String, uid: UInt32, gid: UInt32,
                devices: (@Sendable (String) -> [String])? = nil,
                resolveLinks: (@Sendable (String) -> String?)? = nil,
                unixSockets: (@Sendable (String) -> [String])? = nil,
                landlockABI: Int? = nil) {
        self.landlockABI = landlockABI
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

/// Settings given on the command line; they apply after every profile.
public struct CommandLineOverrides: Sendable {
    /// --publish [HOST_IP:]HOST_PORT:SANDBOX_PORT
    public var publish: [String]
    /// --connect HOST:PORT[:SANDBOX_PORT]
    public var connect: [String]
    /// --env NAME (copy the host value, secrets included) or NAME=VALUE.
    public var env: [String]
    /// --allow-non-loopback-publish: the user accepts exposure beyond this machine.
    public var allowNonLoopbackPublish: Bool
    /// --hostname
    public var hostname: String?
    /// --model FILE: model files bound read-only (relative to the working directory).
    public var models: [String]
    /// --isolation namespaces|landlock (nil: the profile's, else namespaces).
    public var isolation: IsolationMode?

    public init(publish: [String] = [], connect: [String] = [], env: [String] = [],
                allowNonLoopbackPublish: Bool = false, hostname: String? = nil, models: [String] = [],
                isolation: IsolationMode? = nil) {
        self.isolation = isolation
        self.models = models
        self.publish = publish
        self.connect = connect
        self.env = env
        self.allowNonLoopbackPublish = allowNonLoopbackPublish
        self.hostname = hostname
    }
}
