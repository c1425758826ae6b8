import LPAPolicy

/// The values of the run options, as RunOptionParser reads them.
struct RunOptions: Equatable {
    var profile = "strict"
    var dryRun = false
    var format = OutputFormat.text
    var publish: [String] = []
    var connect: [String] = []
    var env: [String] = []
    var model: [String] = []
    /// --ro, --rw, --tmpfs in argv order, each with its position.
    var binds: [CommandLineBind] = []
    /// Set by RunOptionParser while it applies an option: that option's position in
    /// lpa-run's argv (0 after parsing, so equal options compare equal).
    var position = 0
    var hostname: String?
    var isolation: IsolationMode?
    var allowNonLoopbackPublish = false
    var auditLog: String?
    var reportJSON: String?
    var verbose = false
    var quiet = false

    var overrides: CommandLineOverrides {
        CommandLineOverrides(publish: publish, connect: connect, env: env,
                             allowNonLoopbackPublish: allowNonLoopbackPublish, hostname: hostname,
                             models: model, binds: binds, isolation: isolation)
    }
}

/// One run option: its names, its value, its help, and what it does to RunOptions.
struct RunOption: Sendable {
    enum Action: Sendable {
        /// Stops parsing: `--help` is printed instead of running anything.
        case help
        case flag(@Sendable (inout RunOptions) -> Void)
        case value(@Sendable (inout RunOptions, String) throws(RunOptionParser.Failure) -> Void)
    }

    let names: [String]
    /// The value's placeholder in `--help`; nil for an option without a value.
    let valueName: String?
    let help: String
    let action: Action

    var takesValue: Bool { valueName != nil }

    /// An option followed by a value, as the next word or after `=` (long names only).
    init(_ names: [String], value valueName: String, help: String,
         apply: @escaping @Sendable (inout RunOptions, String) throws(RunOptionParser.Failure) -> Void) {
        self.names = names
        self.valueName = valueName
        self.help = help
        self.action = .value(apply)
    }

    /// An option without a value.
    init(_ names: [String], help: String, set: @escaping @Sendable (inout RunOptions) -> Void) {
        self.names = names
        self.valueName = nil
        self.help = help
        self.action = .flag(set)
    }

    /// The option that asks for `--help`.
    static func helpRequest(_ names: [String], help: String) -> RunOption { RunOption(helpNames: names, help: help) }

    private init(helpNames names: [String], help: String) {
        self.names = names
        self.valueName = nil
        self.help = help
        self.action = .help
    }
}

/// Every option of `lpa-run [OPTIONS] [--] COMMAND`, declared once: ArgumentSplitter,
/// RunOptionParser and the OPTIONS section of `--help` all read this table, and a test
/// holds README.md's option table to it. Order is the order of `--help`.
enum RunOptionTable {
    static let all: [RunOption] = [
        RunOption(["--profile"], value: "NAME|FILE",
                  help: "Profile name or file (a name is looked up in $XDG_CONFIG_HOME/lpa-run/profiles, "
                      + "/etc/lpa-run/profiles, then the built-in profiles). (default: strict)") { $0.profile = $1 },
        RunOption(["--dry-run"], help: "Compile and print the isolation plan; create nothing, run nothing.") {
            $0.dryRun = true
        },
        RunOption(["--format"], value: "format",
                  help: "Plan output for --dry-run: text (for people) or json (stable, see docs/plan.md). "
                      + "(values: text, json; default: text)") { options, text throws(RunOptionParser.Failure) in
            guard let format = OutputFormat(rawValue: text) else {
                throw .invalid("bad value '\(text)' for '--format': use text or json")
            }
            options.format = format
        },
        RunOption(["-p", "--publish"], value: "[HOST_IP:]HOST_PORT:SANDBOX_PORT",
                  help: "Publish a sandbox port on the host (inbound only). HOST_IP defaults to 127.0.0.1. "
                      + "Or unix:HOST_PATH:SANDBOX_PORT: a host unix socket instead (created mode 0600 in an existing "
                      + "directory of yours, removed at exit).") {
            $0.publish.append($1)
        },
        RunOption(["--connect"], value: "HOST:PORT[:SANDBOX_PORT]",
                  help: "Let the sandbox reach one host loopback endpoint at 127.0.0.1:PORT inside. Or "
                      + "unix:HOST_PATH[:SANDBOX_PATH]: one host unix socket, at SANDBOX_PATH inside (default HOST_PATH; "
                      + "on a tmpfs such as /run or /tmp), relayed, never bound.") {
            $0.connect.append($1)
        },
        RunOption(["--env"], value: "NAME[=VALUE]",
                  help: "Pass a host variable (even a secret-looking one) or set NAME=VALUE.") { $0.env.append($1) },
        RunOption(["--model"], value: "FILE",
                  help: "Bind a model file read-only into the sandbox at the same absolute path.") {
            $0.model.append($1)
        },
        RunOption(["--ro"], value: "PATH[:TARGET]",
                  help: "Bind a host file or directory read-only, at TARGET or its own path (repeatable). "
                      + "The same checks as profile binds.") {
            $0.binds.append(CommandLineBind(.readOnly, $1, position: $0.position))
        },
        RunOption(["--rw"], value: "PATH[:TARGET]",
                  help: "Bind a host directory read-write, at TARGET or its own path (repeatable). Never over "
                      + "the home, /tmp, /run or lpa-run's config.") {
            $0.binds.append(CommandLineBind(.readWrite, $1, position: $0.position))
        },
        RunOption(["--tmpfs"], value: "PATH[:SIZE]",
                  help: "Mount a fresh tmpfs at PATH inside the sandbox (repeatable; SIZE such as 256M, "
                      + "default tmpfs-size).") {
            $0.binds.append(CommandLineBind(.tmpfs, $1, position: $0.position))
        },
        RunOption(["--hostname"], value: "hostname", help: "Hostname inside the sandbox.") { $0.hostname = $1 },
        RunOption(["--isolation"], value: "MODE",
                  help: "namespaces (the default: the sandbox) or landlock: a weaker mode for hosts where user "
                      + "namespaces are blocked (AppArmor, a container's seccomp filter): Landlock, seccomp and "
                      + "rlimits without namespaces. What it loses is printed at start-up and by --dry-run. "
                      + "(values: namespaces, landlock; default: namespaces)") { options, value throws(RunOptionParser.Failure) in
            guard let mode = IsolationMode(rawValue: value) else {
                throw .invalid("bad value '\(value)' for '--isolation': use namespaces or landlock")
            }
            options.isolation = mode
        },
        RunOption(["--allow-non-loopback-publish"],
                  help: "Allow -p with a non-loopback HOST_IP: this exposes the model to the network.") {
            $0.allowNonLoopbackPublish = true
        },
        RunOption(["--audit-log"], value: "FILE",
                  help: "Append one JSON line per blocked action (denied syscalls, connections out): "
                      + "metadata only, never prompts. A regular file of yours, outside every read-write bind.") {
            $0.auditLog = $1
        },
        RunOption(["--report-json"], value: "FILE",
                  help: "Write the exit report (duration, status, blocked actions, connections) as JSON "
                      + "to a new file (an existing file or link is refused).") {
            $0.reportJSON = $1
        },
        RunOption(["-v", "--verbose"], help: "Say more on stderr, including the exit report.") { $0.verbose = true },
        RunOption(["-q", "--quiet"], help: "Say only errors on stderr.") { $0.quiet = true },
        .helpRequest(["-h", "--help"], help: "Show help information."),
    ]

    /// The option called `name` exactly. A linear scan: the table is short, and the run
    /// path builds no index (start-up is benchmarked).
    static func option(named name: String) -> RunOption? {
        for option in all where option.names.contains(name) { return option }
        return nil
    }
}
