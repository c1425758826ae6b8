/// `--isolation landlock`: turns a compiled plan into the degraded mode's plan. No
/// namespaces: the mounts are not made, so each bind becomes a Landlock rule on its
/// host path (read/execute for read-only binds, read/write for read-write binds and
/// devices), tmpfs mounts (the home, /tmp, caches) become one private directory the
/// launcher creates, and everything the mode cannot enforce is written down in
/// `degraded.losses`. What cannot be expressed at all (a bind at another path,
/// different -p ports, kept capabilities, run-as root, audited calls) is an error.
struct DegradedCompiler {
    var context: HostContext
    var bindPorts: LandlockPorts
    var connectPorts: LandlockPorts

    static let privateDirectory = DegradedPlan.placeholder

    func compile(_ plan: inout IsolationPlan, _ diagnostics: inout [Diagnostic]) {
        let position = SourcePosition.commandLine("--isolation")
        func refuse(_ message: String, hint: String? = nil) {
            diagnostics.append(Diagnostic(at: position, "--isolation landlock: " + message, hint: hint))
        }
        if plan.identity.runAs == .root { refuse("run-as: root needs a user namespace", hint: "use run-as: caller") }
        if !plan.capabilities.keep.isEmpty {
            refuse("capabilities would be the host's own without a user namespace", hint: "remove `capabilities`")
        }
        if plan.identity.uid == 0 { refuse("the workload would run as host root", hint: "run lpa-run through sudo (SUDO_UID) or as a user") }
        for port in plan.network.publish where port.hostPort != port.sandboxPort {
            refuse("-p \(port.hostPort):\(port.sandboxPort): the server binds the host's port directly, so both ports must be the same",
                   hint: "-p \(port.hostPort):\(port.hostPort), and start the server on port \(port.hostPort)")
        }
        for endpoint in plan.network.connect where endpoint.hostPort != endpoint.sandboxPort {
            refuse("--connect \(endpoint.hostPort) as \(endpoint.sandboxPort): the workload connects to the host's port directly",
                   hint: "--connect \(endpoint.hostAddress):\(endpoint.hostPort)")
        }
        // Unix-socket endpoints are relays of lpa-run's event loop, which this mode does not run.
        for socket in plan.network.publishSockets {
            refuse("-p unix:\(socket.hostPath): unix-socket endpoints are relayed by lpa-run, which this mode does not do",
                   hint: "publish a TCP port instead (-p \(socket.sandboxPort):\(socket.sandboxPort))")
        }
        for socket in plan.network.connectSockets {
            refuse("--connect unix:\(socket.hostPath): unix-socket endpoints are relayed by lpa-run, which this mode does not do",
                   hint: "reach a TCP endpoint instead")
        }
        if let abi = context.landlockABI, abi < LandlockNetwork.abi {
            refuse("this kernel's Landlock ABI is \(abi); the mode needs ABI \(LandlockNetwork.abi) (Linux 6.7) for its TCP rules",
                   hint: "see `lpa-run doctor`")
        }

        let known = LandlockAccess.known(abi: context.landlockABI)
        var rules: [LandlockRule] = []
        var hidden: [String] = []
        for mount in plan.mounts {
            let source = mount.source ?? mount.target
            var access: [LandlockAccess]
            switch mount.kind {
            case .bind:
                guard source == mount.target else {
                    refuse("\(source) is bound at \(mount.target): without a mount namespace a file is only where it is on the host")
                    continue
                }
                access = mount.options.readOnly ? LandlockCompiler.readOnly : LandlockCompiler.readWrite
            case .device: access = mount.options.readOnly ? [.readFile, .ioctlDev] : LandlockCompiler.device
            // The host's /proc: readable (the workload's own entries and, by the usual uid
            // rules, other processes'), never writable.
            case .proc: access = [.readFile, .readDir]
            case .hide, .protect:
                hidden.append(mount.target)
                continue
            // tmpfs mounts are replaced by the private directory; links and devpts exist on the host.
            case .tmpfs, .symlink, .devpts: continue
            // The DNS sink's resolv.conf: without a network namespace there is no sink.
            case .file: continue
            }
            access = access.filter(known.contains)
            if mount.options.noExec { access.removeAll { $0 == .execute } }
            guard !access.isEmpty else { continue }
            rules.append(LandlockRule(path: source, access: access, mount: nil, optional: mount.optional))
        }
        let readable = rules.filter { $0.access.contains(.readFile) }.map(\.path)
        let exposed = hidden.filter { path in
            readable.contains { path == $0 || path.hasPrefix($0 == "/" ? "/" : $0 + "/") }
        }

        // `any` would open every host loopback port: here it means none beyond the plan's.
        func listed(_ ports: LandlockPorts) -> LandlockPorts {
            if case .only = ports { return ports }
            return .only([])
        }
        let bind = listed(bindPorts).adding(plan.network.publish.map(\.hostPort))
        let connect = listed(connectPorts).adding(plan.network.connect.map(\.hostPort))
        let scopes = context.landlockABI == nil || context.landlockABI! >= 6 ? ["signal", "abstract-unix-socket"] : []
        plan.landlock = LandlockPlan(mode: .required, abi: context.landlockABI, handled: known, scopes: scopes,
                                     rules: rules, network: LandlockNetwork(handled: ["bind-tcp", "connect-tcp"],
                                                                            bind: bind, connect: connect))

        // The private directory replaces the home, /tmp and the caches.
        var set = plan.environment.set.filter { variable in
            !DegradedPlan.privateVariables.contains { $0.name == variable.name }
        }
        for (name, sub) in DegradedPlan.privateVariables {
            set.append(.init(name: name, value: Self.privateDirectory + (sub.isEmpty ? "" : "/" + sub)))
        }
        plan.environment.set = set
        if plan.workingDirectory != context.cwd || plan.mounts.allSatisfy({ $0.target != context.cwd }) {
            plan.workingDirectory = Self.privateDirectory
        }

        plan.degraded = DegradedPlan(losses: losses(plan, exposed: exposed, scopes: scopes),
                                     privateParent: context.environment["XDG_RUNTIME_DIR"].flatMap { $0.hasPrefix("/") ? $0 : nil },
                                     seccomp: Self.socketFilter(plan.seccomp))
        // Blocked calls are answered in the kernel, as without auditing: this mode runs
        // no supervisor (a stated loss).
        plan.audit = AuditPlan()
        // No network namespace, so no DNS sink: the host's resolver, as the host's network.
        plan.network.dns = .host
        plan.mounts.removeAll { $0.kind == .file }
        plan.isolation = .landlock
        plan.namespaces = []
        plan.mounts = []
    }

    /// What this mode does not protect, in the order a reader should weigh it.
    private func losses(_ plan: IsolationPlan, exposed: [String], scopes: [String]) -> [String] {
        var losses = [
            "no pid namespace: other processes are visible in /proc (their details by the usual uid rules), and a process the workload starts in a session of its own (setsid) outlives the run",
            "no network namespace: the host's loopback ports are reachable by port number; TCP connect is limited to the --connect ports and TCP bind to the published ports (Landlock), on any address",
            "a published server binds the host's port itself: Landlock restricts the port, not the address (0.0.0.0 is possible)",
            "pathname unix sockets under readable trees can be connected to (Landlock does not restrict connect on them)",
            "no noswap guarantee: the private directory lives on $XDG_RUNTIME_DIR's tmpfs, whose pages may reach swap",
            "no private /proc, /dev or /sys: the host's /proc is readable, device nodes are the host's",
            "the hostname, System V IPC, POSIX message queues and the cgroup view are the host's",
            "the workload runs as the caller (as root: SUDO_UID or nobody, without supplementary groups) and keeps what that user may read under the readable trees",
            "the caller's terminal is passed through as is (no pty of the sandbox's own)",
            "blocked calls are refused but not logged (no audit supervisor, no --audit-log entries)",
            "listen() on an unbound TCP socket auto-binds a random port on every address (0.0.0.0), outside the bind-ports rule: Landlock does not see that bind",
            "the caller's own files anywhere (the home included) can have their metadata changed by path: chmod, chown, setxattr, utime (Landlock does not restrict metadata)",
            "abstract unix socket names can be bound on the host (squatting an X11 or D-Bus name): the abstract-unix-socket scope stops connecting out, not binding",
            "a SIGKILL of lpa-run leaves its private directory behind (the workload itself is killed with it)",
        ]
        if !exposed.isEmpty {
            losses.append("hidden paths under readable trees stay readable (Landlock cannot subtract a path): "
                          + exposed.joined(separator: " "))
        }
        if !plan.pins.files.isEmpty || !plan.pins.directories.isEmpty || plan.pins.executable != nil
            || plan.models.contains(where: { $0.sha256 != nil }) {
            losses.append("pinned files are checked, then opened by path: a file replaced in between is not detected")
        }
        if scopes.isEmpty {
            losses.append("no signal or abstract-unix-socket scopes (Landlock ABI 6 needed): other processes of the same user can be signalled")
        }
        return losses
    }

    /// socket(AF_INET or AF_INET6) for anything but TCP fails with EPERM (no UDP, so no
    /// DNS; no raw or SCTP sockets, which Landlock's TCP rules would not see), TCP Fast
    /// Open fails (it connects without Landlock's connect hook), and io_uring fails (its socket operation does not pass through seccomp). A second
    /// filter on top of the profile's: the kernel applies the stricter answer.
    static func socketFilter(_ profile: SeccompPlan) -> SeccompPlan {
        let eperm = SeccompAction.errno(name: "EPERM", number: ErrnoNames.number("EPERM")!)
        var rules: [SeccompRule] = []
        let socket = SyscallResolver.number(of: "socket") ?? -1
        for family: UInt64 in [2, 10] {  // AF_INET, AF_INET6
            for type: UInt64 in 0...15 where type != 1 {  // every SOCK_* but SOCK_STREAM (low 4 bits)
                rules.append(SeccompRule(syscall: "socket", number: socket, action: eperm,
                                         args: [ArgCondition(index: 0, op: .eq, value: family),
                                                ArgCondition(index: 1, op: .maskedEq, value: type, mask: 0xf)],
                                         reason: "isolation-landlock"))
            }
            // SOCK_STREAM with a protocol other than 0 or IPPROTO_TCP (6): SCTP, MPTCP.
            rules.append(SeccompRule(syscall: "socket", number: socket, action: eperm,
                                     args: [ArgCondition(index: 0, op: .eq, value: family),
                                            ArgCondition(index: 2, op: .gt, value: 6, width: 32)],
                                     reason: "isolation-landlock"))
        }
        for call in ["io_uring_setup", "io_uring_enter", "io_uring_register"] {
            rules.append(SeccompRule(syscall: call, number: SyscallResolver.number(of: call) ?? -1, action: eperm,
                                     reason: "isolation-landlock"))
        }
        // Connect ports are always restricted here: TCP Fast Open would bypass them.
        rules += LandlockCompiler.fastOpenRules(reason: "isolation-landlock")
        return SeccompPlan(architecture: profile.architecture, defaultAction: .allow,
                           otherArchitectures: profile.otherArchitectures, rules: rules)
    }
}
