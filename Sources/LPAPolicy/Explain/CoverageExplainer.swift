/// How a plan answers one risk: the settings that answer it, with the lines that
/// asked for them, and the gaps that stay open, with the line that opened each and
/// its fix.
public struct RiskCoverage: Codable, Equatable, Sendable {
    public enum Verdict: String, Codable, Sendable {
        /// Every setting the threat model asks for is in the plan.
        case answered
        /// Answered in part: the profile weakened or left out a setting.
        case partial
        /// The profile opened the risk (for example `network: host` for phoning home).
        case open
    }

    public struct Setting: Codable, Equatable, Sendable {
        public var text: String
        public var origin: Origin?
    }

    public struct Gap: Codable, Equatable, Sendable {
        public enum Weight: String, Codable, Sendable {
            /// The risk is open because of this setting.
            case opens
            /// The risk is narrowed but not closed.
            case weakens
        }
        public var weight: Weight
        public var text: String
        public var origin: Origin?
        public var fix: String?
    }

    public var risk: Risk
    public var title: String
    public var verdict: Verdict
    public var answeredBy: [Setting]
    public var gaps: [Gap]
    /// What no profile setting changes (Risk.residual).
    public var residual: [String]
}

/// Walks a plan against the threat model. Pure: the plan, the positions of its
/// single-valued settings and the caller's home are all it reads.
public struct CoverageExplainer: Sendable {
    public let plan: IsolationPlan
    public let origins: SettingOrigins
    /// The caller's home on the host: binds from under it are the user's files.
    public let home: String

    public init(plan: IsolationPlan, origins: SettingOrigins, home: String) {
        self.plan = plan
        self.origins = origins
        self.home = home
    }

    public func explain() -> [RiskCoverage] {
        Risk.allCases.map { risk in
            var finding = Finding()
            switch risk {
            case .persistence: persistence(&finding)
            case .phoneHome: phoneHome(&finding)
            case .tampering: tampering(&finding)
            case .hostFiles: hostFiles(&finding)
            case .kernel: kernel(&finding)
            case .terminal: terminal(&finding)
            case .processes: processes(&finding)
            case .exposure: exposure(&finding)
            }
            degradedLosses(risk, &finding)
            let verdict: RiskCoverage.Verdict =
                finding.gaps.contains { $0.weight == .opens } ? .open : (finding.gaps.isEmpty ? .answered : .partial)
            return RiskCoverage(risk: risk, title: risk.title, verdict: verdict, answeredBy: finding.settings,
                                gaps: finding.gaps, residual: risk.residual)
        }
    }

    private struct Finding {
        var settings: [RiskCoverage.Setting] = []
        var gaps: [RiskCoverage.Gap] = []
        mutating func answer(_ text: String, _ origin: Origin? = nil) {
            settings.append(.init(text: text, origin: origin))
        }
        mutating func opens(_ text: String, _ origin: Origin?, fix: String?) {
            gaps.append(.init(weight: .opens, text: text, origin: origin, fix: fix))
        }
        mutating func weakens(_ text: String, _ origin: Origin?, fix: String?) {
            gaps.append(.init(weight: .weakens, text: text, origin: origin, fix: fix))
        }
    }

    // MARK: - Facts of the plan

    /// `--isolation landlock`: no namespaces; its losses (DegradedCompiler) are gaps.
    private var degraded: Bool { plan.isolation == .landlock }

    /// The degraded mode's losses, each to the risk it weakens (by the sentence's
    /// opening words, which DegradedCompiler writes once); one nobody claims goes to
    /// `kernel`, so none is ever left out.
    static func risk(ofLoss loss: String) -> Risk {
        let starts: [(String, Risk)] = [
            ("no pid namespace", .processes), ("no network namespace", .phoneHome), ("a published server", .exposure),
            ("pathname unix sockets", .hostFiles), ("no noswap", .persistence), ("no private /proc", .processes),
            ("the hostname", .processes), ("the workload runs as", .hostFiles), ("the caller's terminal", .terminal),
            ("blocked calls are refused but not logged", .phoneHome), ("hidden paths", .hostFiles),
            ("pinned files", .tampering), ("no signal or abstract", .processes),
            ("listen() on an unbound TCP socket", .exposure), ("the caller's own files", .hostFiles),
            ("abstract unix socket names", .processes), ("a SIGKILL of lpa-run", .persistence),
        ]
        return starts.first { loss.hasPrefix($0.0) }?.1 ?? .kernel
    }

    private func degradedLosses(_ risk: Risk, _ f: inout Finding) {
        guard degraded, let losses = plan.degraded?.losses else { return }
        for loss in losses where Self.risk(ofLoss: loss) == risk {
            f.weakens("--isolation landlock: " + loss, origins.isolation,
                      fix: "run with user namespaces (`lpa-run doctor` says what blocks them)")
        }
    }

    private var privateNetwork: Bool { plan.network.mode == .none && plan.namespaces.contains(.net) }
    private var hostNetwork: Bool { plan.network.mode == .host || (!degraded && !plan.namespaces.contains(.net)) }
    private var readWriteBinds: [MountEntry] { plan.mounts.filter { $0.kind == .bind && !$0.options.readOnly } }
    private var scratchTmpfs: [MountEntry] { plan.mounts.filter { $0.kind == .tmpfs && $0.target != "/dev" } }

    private func isUnderHome(_ path: String) -> Bool {
        home != "/" && (path == home || path.hasPrefix(home + "/"))
    }

    private func deniedGroups() -> [(group: String, origin: Origin?)] {
        var seen: [String: Origin?] = [:]
        var order: [String] = []
        for rule in plan.seccomp.rules where rule.action != .allow {
            guard let reason = rule.reason, rule.args.isEmpty else { continue }
            if seen[reason] == nil { order.append(reason) }
            seen[reason] = rule.origin
        }
        return order.map { ($0, seen[$0] ?? nil) }
    }

    private func deniesIoctl(_ request: UInt64) -> SeccompRule? {
        plan.seccomp.rules.first { rule in
            rule.syscall == "ioctl" && rule.action != .allow
                && rule.args.contains { $0.index == 1 && $0.value == request && ($0.op == .eq || $0.op == .maskedEq) }
        }
    }

    private func deniesSyscall(_ name: String) -> SeccompRule? {
        plan.seccomp.rules.first { $0.syscall == name && $0.args.isEmpty && $0.action != .allow }
    }

    private var defaultDenies: Bool { plan.seccomp.defaultAction != .allow && plan.seccomp.defaultAction != .log }

    // MARK: - Risks

    private func persistence(_ f: inout Finding) {
        if degraded {
            f.answer("HOME, TMPDIR and XDG_* point to a private directory on $XDG_RUNTIME_DIR's tmpfs, removed at exit",
                     origins.isolation)
        }
        for tmpfs in scratchTmpfs where tmpfs.origin != nil {
            f.answer("\(tmpfs.target) is a tmpfs that vanishes at exit", tmpfs.origin)
        }
        let swappable = scratchTmpfs.filter { !$0.options.noswap }
        if swappable.isEmpty {
            f.answer("tmpfs pages never reach swap (noswap)", origins.noswap)
        } else {
            f.weakens("tmpfs " + swappable.map(\.target).joined(separator: ", ")
                      + " may be written to a swap device", origins.noswap,
                      fix: "filesystem: {noswap: true}")
        }
        // The compiler always sets core to 0 (PolicyCompiler.rlimits): no profile can allow dumps.
        f.answer("no core dumps (rlimit core 0, always)", plan.rlimits.first { $0.resource == "core" }?.origin)
        for bind in readWriteBinds {
            f.weakens("\(bind.source ?? bind.target) is writable: what the workload writes there stays after exit",
                      bind.origin, fix: "bind it read-only, or use a tmpfs")
        }
    }

    private func phoneHome(_ f: inout Finding) {
        if hostNetwork {
            f.opens("the workload uses the host's network: it can reach any address", origins.networkMode,
                    fix: "network: {mode: none} (publish ports with -p, reach host services with --connect)")
        } else if privateNetwork {
            f.answer("a private network namespace with loopback only", origins.networkMode)
            if plan.network.dns == .sink {
                // Where it wanted to go, by name: the lookup fails at once and is logged.
                f.answer("a DNS sink on 127.0.0.1:53 answers every lookup NXDOMAIN at once, never forwards, "
                         + "and names each one in the audit log and the exit report (network: dns: sink)",
                         plan.mounts.first { $0.kind == .file && $0.target == "/etc/resolv.conf" }?.origin)
            }
        }
        for endpoint in plan.network.connect {
            f.weakens("sandbox port \(endpoint.sandboxPort) reaches \(endpoint.hostAddress):\(endpoint.hostPort) on the host: "
                      + "whatever listens there can pass data on", endpoint.origin,
                      fix: "remove the endpoint unless the workload needs that service")
        }
        for socket in plan.network.connectSockets {
            f.weakens("\(socket.sandboxPath) reaches the host socket \(socket.hostPath): whatever listens there can pass data on",
                      socket.origin, fix: "remove the endpoint unless the workload needs that service")
        }
        let switches = plan.environment.set.filter { Self.offlineSwitches.contains($0.name) }
        for variable in switches {
            f.answer("\(variable.name)=\(variable.value) (the program's own off switch)", variable.origin)
        }
    }

    /// Environment variables that turn off telemetry, update checks or downloads in the
    /// servers of shared/reference/model-servers.md.
    static let offlineSwitches: Set<String> = [
        "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY",
        "HF_HUB_DISABLE_UPDATE_CHECK", "DO_NOT_TRACK", "DISABLE_TELEMETRY", "VLLM_NO_USAGE_STATS",
        "VLLM_DO_NOT_TRACK", "LLAMA_ARG_OFFLINE", "OLLAMA_NO_CLOUD", "OLLAMA_NOHISTORY",
        "ANONYMIZED_TELEMETRY", "GRADIO_ANALYTICS_ENABLED", "AIDER_ANALYTICS", "AIDER_ANALYTICS_DISABLE",
        "AIDER_CHECK_UPDATE", "LOCALAI_AUTOLOAD_GALLERIES",
    ]

    private func tampering(_ f: inout Finding) {
        let readOnly = plan.mounts.filter { $0.kind == .bind && $0.options.readOnly }
        if !readOnly.isEmpty {
            f.answer("\(readOnly.count) host paths are bound read-only: the workload cannot change them for the next run")
        }
        if let executable = plan.pins.executable {
            f.answer("the executable is pinned by SHA-256", executable.origin)
        } else {
            f.weakens("the executable is not pinned: a changed binary would start", nil,
                      fix: "pins: {executable: HEX} (lpa-run hash FILE prints it)")
        }
        for file in plan.pins.files { f.answer("\(file.path) is pinned by SHA-256", file.origin) }
        for directory in plan.pins.directories {
            f.answer("\(directory.path) is pinned file by file (\(directory.files.count) files)", directory.origin)
        }
        for model in plan.models {
            if model.sha256 != nil {
                f.answer("model \(model.path) is pinned by SHA-256", model.origin)
            } else {
                f.weakens("model \(model.path) is not pinned", model.origin,
                          fix: "models: [{path: \(model.path), sha256: HEX}]")
            }
        }
        for bind in readWriteBinds {
            f.weakens("\(bind.source ?? bind.target) is writable: files there can be changed for the next run",
                      bind.origin, fix: "bind it read-only")
        }
    }

    private func hostFiles(_ f: inout Finding) {
        let homeTmpfs = plan.mounts.contains { $0.kind == .tmpfs && $0.target == home }
        if homeTmpfs {
            f.answer("the home is a private, empty tmpfs", origins.home)
        }
        for hidden in plan.mounts where hidden.kind == .hide && hidden.origin != nil {
            f.answer("\(hidden.target) is hidden", hidden.origin)
        }
        for bind in plan.mounts where bind.kind == .bind {
            let source = bind.source ?? bind.target
            guard isUnderHome(source) else { continue }
            let access = bind.options.readOnly ? "readable" : "readable and writable"
            f.weakens("\(source) (in your home) is \(access)", bind.origin,
                      fix: "bind only the files the workload needs")
        }
        for entry in origins.allowedSockets {
            f.weakens("unix sockets at \(entry.path) are reachable on purpose: their services act with your rights",
                      entry.origin, fix: "reach one service with --connect instead")
        }
        if !plan.environment.dropped.isEmpty {
            f.answer("\(plan.environment.dropped.count) host environment variables are not passed in (secrets never by default)",
                     origins.environmentKeep)
        }
        if origins.allowSecrets != nil {
            f.weakens("secret-looking variables are passed in", origins.allowSecrets,
                      fix: "pass the one secret the workload needs, or none")
        }
        if plan.landlock.mode == .off {
            f.weakens("no Landlock filesystem rules: the mount namespace is the only filesystem wall",
                      origins.landlock, fix: "landlock: best-effort (or required)")
        } else if plan.landlock.abi == 0 {
            f.weakens("this kernel has no Landlock: the mount namespace is the only filesystem wall", origins.landlock,
                      fix: "a kernel with Landlock (5.13+); `lpa-run doctor` tells")
        } else {
            f.answer("Landlock rules allow only the plan's paths (a second wall, \(plan.landlock.mode.rawValue))",
                     origins.landlock)
        }
    }

    private func kernel(_ f: inout Finding) {
        // user, mount and pid cannot be removed (PolicyCompiler.compileNamespaces), except
        // by the degraded mode, whose losses say what that costs.
        if plan.namespaces.contains(.user) {
            f.answer("a user namespace: root inside is not root on the host", origins.namespaces)
        }
        for (group, origin) in deniedGroups() where !["socket-families", "ioctl-deny", "clone-flags", "personality-flags"].contains(group) {
            f.answer("\(group) system calls are denied", origin)
        }
        if plan.seccomp.rules.contains(where: { $0.reason == "clone-flags" }) {
            f.answer("new namespaces cannot be created inside (clone flags denied)",
                     plan.seccomp.rules.first { $0.reason == "clone-flags" }?.origin)
        }
        if plan.seccomp.otherArchitectures != .allow {
            f.answer("system calls through other ABIs (i386, x32): \(plan.seccomp.otherArchitectures)",
                     origins.otherArchitectures)
        }
        if defaultDenies {
            f.answer("seccomp default \(plan.seccomp.defaultAction): only listed calls are allowed", origins.seccompDefault)
        } else {
            f.weakens("seccomp default \(plan.seccomp.defaultAction): a denylist, calls not listed are allowed",
                      origins.seccompDefault, fix: "seccomp: {default: deny} with the calls the workload needs")
        }
        if plan.capabilities.keep.isEmpty {
            f.answer("no capabilities", origins.capabilities)
        } else {
            f.weakens("capabilities kept: " + plan.capabilities.keep.map(\.name).joined(separator: ", "),
                      origins.capabilities, fix: "capabilities: []")
        }
        if plan.noNewPrivs { f.answer("no_new_privs: setuid programs gain nothing") }
        for device in plan.mounts where device.kind == .device && device.origin != nil {
            f.weakens("device \(device.source ?? device.target): its driver's ioctls are not filtered", device.origin,
                      fix: "leave devices out unless the workload needs them")
        }
    }

    private func terminal(_ f: inout Finding) {
        if !degraded {
            f.answer("the workload gets a terminal of its own and a new session: the caller's terminal is out of reach")
        }
        // TIOCSTI pushes bytes into a terminal's input, TIOCLINUX does the same on a
        // Linux console (asm-generic/ioctls.h).
        if let rule = deniesIoctl(0x5412) {
            f.answer("TIOCSTI is denied", rule.origin)
        } else {
            f.weakens("TIOCSTI is allowed on the sandbox's own terminal", nil, fix: "seccomp: {ioctl-deny: [TIOCSTI]}")
        }
        if let rule = deniesIoctl(0x541C) {
            f.answer("TIOCLINUX is denied", rule.origin)
        } else {
            f.weakens("TIOCLINUX is allowed", nil, fix: "seccomp: {ioctl-deny: [TIOCLINUX]}")
        }
    }

    private func processes(_ f: inout Finding) {
        if plan.namespaces.contains(.pid) {
            f.answer("a pid namespace: host processes are invisible and cannot be signalled", origins.namespaces)
        }
        if plan.namespaces.contains(.ipc) {
            f.answer("an ipc namespace: host shared memory and message queues are out of reach", origins.namespaces)
        } else if !degraded {
            f.weakens("no ipc namespace: host System V shared memory is reachable", origins.namespaces,
                      fix: "namespaces: include ipc")
        }
        if let rule = deniesSyscall("ptrace") {
            f.answer("ptrace and the other debug calls are denied", rule.origin)
        } else {
            f.weakens("ptrace is allowed (inside the sandbox only)", nil, fix: "seccomp: {deny: [\"@debug\"]}")
        }
        if plan.landlock.scopes.contains("signal") {
            f.answer("Landlock signal scope: no signals outside the workload's domain", origins.landlock)
        }
        if hostNetwork {
            f.weakens("the host's abstract unix sockets (X11, D-Bus, some agents) are reachable", origins.networkMode,
                      fix: "network: {mode: none}")
        } else if plan.landlock.scopes.contains("abstract-unix-socket") {
            f.answer("Landlock abstract unix socket scope", origins.landlock)
        }
    }

    private func exposure(_ f: inout Finding) {
        for socket in plan.network.publishSockets {
            f.answer("port \(socket.sandboxPort) is published as the unix socket \(socket.hostPath) (mode 0600: your uid only)",
                     socket.origin)
        }
        if hostNetwork {
            f.opens("the workload can listen on any host interface", origins.networkMode,
                    fix: "network: {mode: none} and publish the port on 127.0.0.1 with -p")
        } else if plan.network.publish.isEmpty && plan.network.publishSockets.isEmpty && !degraded {
            f.answer("nothing is published: nothing outside the sandbox can connect", origins.networkMode)
        }
        for port in plan.network.publish {
            if port.hostAddress.isLoopback {
                f.answer("port \(port.sandboxPort) is published on \(port.hostAddress):\(port.hostPort) only", port.origin)
            } else {
                f.opens("port \(port.sandboxPort) is published on \(port.hostAddress):\(port.hostPort): other machines can connect",
                        port.origin, fix: "-p 127.0.0.1:\(port.hostPort):\(port.sandboxPort)")
            }
        }
    }
}
