#if canImport(Glibc)
import Glibc
#endif
import CLaunch
import LPAPolicy

/// Runs a compiled plan: prepares every part of the sandbox in Swift, then hands a flat
/// spec to the post-clone window in C (launch.c), writes the id maps, and waits.
/// The launcher takes only a plan; it never reads profiles.
public final class Launcher {
    public let plan: IsolationPlan
    /// Connections relayed through published ports and host endpoints, after run().
    public private(set) var relayStats = RelayStats()

    public struct RelayStats: Sendable {
        public var connectionsServed: UInt64 = 0
        public var connectionsRefused: UInt64 = 0
    }

    /// No progress bar while hashing pinned files (-q).
    public var quiet = false
    /// JSON lines, one per blocked action (see docs/plan.md "Audit log").
    public var auditLogPath: String?
    /// What was blocked, after run().
    public private(set) var auditReport = AuditReport()
    /// What the workload left in the sandbox's tmpfs mounts, discarded at exit (nil if unknown).
    public private(set) var tmpfsBytesDiscarded: UInt64?
    /// Say how each pinned file was checked (-v).
    public var verbose = false

    public init(plan: IsolationPlan) { self.plan = plan }

    /// Runs the workload and returns lpa-run's exit status: the workload's own, 128+N
    /// when it died from signal N. Throws before anything runs when the plan cannot
    /// be applied in full.
    public func run() throws(LaunchError) -> Int32 {
        guard let executable = plan.command.executable else {
            throw LaunchError(step: "resolve command", errno: ENOENT,
                              message: "command not found: \(plan.command.argv.first ?? "")",
                              hint: "check the name and PATH, or give an absolute path", exitCode: 127)
        }
        guard plan.noNewPrivs else {
            throw LaunchError(step: "no_new_privs", message: "a plan without no_new_privs cannot be run")
        }
        guard plan.namespaces.contains(.user), plan.namespaces.contains(.mount) else {
            throw LaunchError(step: "namespaces", message: "the user and mount namespaces are required")
        }

        // Supply-chain pins, before anything is created: a mismatch stops here. The mount
        // steps then bind each pinned path from the descriptor that was hashed.
        let verified = try PinVerifier(plan: plan, quiet: quiet, verbose: verbose).verify()
        defer { verified.close() }

        let mounts = try MountSteps(plan: plan, verified: verified)
        defer { mounts.mountFds.forEach { close($0) } }
        let network = try NetworkSetup(plan: plan)
        // Denials go through the audit supervisor so each is logged and reported; attempts
        // to connect out are recorded too when the sandbox has its own network namespace.
        let filter = try SeccompFilter(plan: plan.seccomp, audit: true,
                                       egress: plan.network.mode == .none && plan.namespaces.contains(.net))
        let audit = filter.auditRules.isEmpty ? nil
            : try AuditSupervisor(rules: filter.auditRules, logPath: auditLogPath)
        let caps = try CapabilitySets(plan: plan.capabilities)
        let arena = CStringArena()

        let ops = mounts.cOps(arena: arena)
        let rlimits = plan.rlimits.map {
            lpa_rlimit(resource: $0.number, soft: $0.soft ?? UInt64.max, hard: $0.hard ?? UInt64.max)
        }
        let env = plan.environment.set.map { "\($0.name)=\($0.value)" }
        let instructions = arena.array(filter.instructions)
        var program = sock_fprog(len: UInt16(filter.instructions.count), filter: instructions)
        let keep = arena.array(caps.keep)

        let sync = try makePipe("sync pipe")
        let usage = try makePipe("tmpfs usage pipe")
        let report = try makePipe("report pipe")

        var spec = lpa_spec()
        spec.clone_flags = Self.cloneFlags(plan.namespaces)
        spec.new_pid_ns = plan.namespaces.contains(.pid) ? 1 : 0
        spec.new_net_ns = network.newNamespace ? 1 : 0
        spec.hostname = plan.namespaces.contains(.uts) ? UnsafePointer(arena.string(plan.hostname)) : nil
        spec.fs_op_count = ops.count
        spec.workdir = UnsafePointer(arena.string(plan.workingDirectory))
        spec.exec_path = UnsafePointer(arena.string(executable))
        spec.argv = UnsafePointer(arena.stringArray(plan.command.argv))
        spec.envp = UnsafePointer(arena.stringArray(env))
        spec.rlimit_count = rlimits.count
        spec.caps = UnsafeMutableRawPointer(caps.caps)
        spec.keep_caps = UnsafePointer(keep)
        spec.keep_cap_count = caps.keep.count
        spec.last_cap = caps.lastCap
        spec.sync_fd = sync.read
        spec.report_fd = report.write
        spec.control_fd = network.control?.sandbox ?? -1
        spec.audit_fd = audit?.channel.sandbox ?? -1
        spec.usage_fd = usage.write
        let connectPorts = arena.array(network.connectSandboxPorts)
        spec.connect_ports = UnsafePointer(connectPorts)
        spec.connect_port_count = network.connectSandboxPorts.count

        let opsPointer = arena.array(ops)
        let rlimitPointer = arena.array(rlimits)
        spec.fs_ops = UnsafePointer(opsPointer)
        spec.rlimits = UnsafePointer(rlimitPointer)

        let pid = withUnsafePointer(to: &program) { prog -> pid_t in
            spec.seccomp = prog
            return lpa_spawn(&spec)
        }
        let spawnErrno = errno
        close(sync.read)
        close(report.write)
        close(usage.write)
        defer { close(usage.read) }
        network.closeSandboxEnd()
        audit?.closeSandboxEnd()
        if pid < 0 {
            close(sync.write)
            close(report.read)
            throw LaunchError(step: "clone namespaces", errno: spawnErrno,
                              message: "could not create the sandbox's namespaces",
                              hint: UserNamespace.diagnosis())
        }

        // From here on the child exists: any failure must take it down with us.
        do {
            try UserNamespace.writeIdMaps(pid: pid, identity: plan.identity)
            _ = lpa_forward_signals_to(pid)
            var go: UInt8 = 1
            try sys("start sandbox") { write(sync.write, &go, 1) }
            close(sync.write)
        } catch {
            close(sync.write)
            close(report.read)
            kill(pid, SIGKILL)
            _ = waitForExit(pid)
            throw error
        }

        let failure = readReport(report.read)
        close(report.read)
        if failure == nil, let audit {
            do {
                try audit.receiveListener()
            } catch {
                kill(pid, SIGKILL)
                _ = waitForExit(pid)
                throw error
            }
        }
        if failure == nil && (network.hasRelays || audit != nil) {
            try supervise(network: network, audit: audit, initPid: pid)
        }
        let status = waitForExit(pid)
        tmpfsBytesDiscarded = readUsage(usage.read)
        if let failure {
            throw explain(failure, mounts: mounts)
        }
        return status
    }

    /// Serves published ports and host endpoints until the init exits.
    /// The event loop (relay.c) until the init exits: published ports, host endpoints,
    /// and the audit supervisor's seccomp notifications.
    private func supervise(network: NetworkSetup, audit: AuditSupervisor?, initPid: pid_t) throws(LaunchError) {
        // Each relayed connection holds two sockets and two pipes: lift the soft limit.
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        let pidfd = lpa_pidfd_open(initPid)
        if pidfd < 0 {
            let err = errno
            kill(initPid, SIGKILL)
            throw LaunchError(step: "relay: pidfd_open", errno: err, message: "cannot watch the sandbox's init",
                              hint: "pidfd needs Linux 5.3 or later")
        }
        defer { close(pidfd) }
        let fds = network.publishFds
        let ports = network.publishSandboxPorts
        let targets = network.connectTargets
        var stats = lpa_relay_stats()
        let rc = fds.withUnsafeBufferPointer { fdBuffer in
            ports.withUnsafeBufferPointer { portBuffer in
                targets.withUnsafeBufferPointer { targetBuffer in
                    withUnsafeMutablePointer(to: &stats) { statsPointer in
                        func loop(_ auditSpec: UnsafeMutablePointer<lpa_audit_spec>?) -> Int32 {
                            var spec = lpa_relay_spec(
                                control_fd: network.control?.launcher ?? -1, init_pidfd: pidfd,
                                publish_fds: fdBuffer.baseAddress, publish_sandbox_ports: portBuffer.baseAddress,
                                publish_count: fdBuffer.count, connect_targets: targetBuffer.baseAddress,
                                connect_count: targetBuffer.count, stats: statsPointer, audit: auditSpec)
                            return lpa_relay_run(&spec)
                        }
                        return audit.map { $0.withSpec { loop($0) } } ?? loop(nil)
                    }
                }
            }
        }
        relayStats = RelayStats(connectionsServed: stats.connections_served,
                                connectionsRefused: stats.connections_refused)
        if let audit { auditReport = audit.report }
        if rc != 0 {
            let err = errno
            kill(initPid, SIGKILL)
            throw LaunchError(step: "relay", errno: err, message: "the relay for published ports could not start")
        }
    }

    static func cloneFlags(_ namespaces: [Namespace]) -> UInt {
        namespaces.reduce(UInt(0)) { $0 | lpa_clone_flag($1.rawValue) }
    }

    private func makePipe(_ what: String) throws(LaunchError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        try sys(what) { lpa_pipe_cloexec(&fds) }
        return (fds[0], fds[1])
    }

    private func readUsage(_ fd: Int32) -> UInt64? {
        var value: UInt64 = 0
        let n = withUnsafeMutableBytes(of: &value) { read(fd, $0.baseAddress, $0.count) }
        return n == MemoryLayout<UInt64>.size ? value : nil
    }

    /// nil when the pipe closed without a report: the workload's execve succeeded.
    private func readReport(_ fd: Int32) -> lpa_report? {
        var report = lpa_report()
        let size = MemoryLayout<lpa_report>.size
        var got = 0
        while got < size {
            let n = withUnsafeMutableBytes(of: &report) { read(fd, $0.baseAddress! + got, size - got) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        return got == size ? report : nil
    }

    private func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 125 }
        }
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }

    private func explain(_ report: lpa_report, mounts: MountSteps) -> LaunchError {
        let err = report.err
        let index = Int(report.index)
        let permissionHint = err == EPERM ? UserNamespace.diagnosis() : nil
        switch lpa_step(UInt32(report.step)) {
        case LPA_STEP_EXECVE:
            let path = plan.command.executable ?? ""
            if err == ENOENT || err == ENOTDIR {
                return LaunchError(step: "execve \(path)", errno: err, message: "command not found inside the sandbox",
                                   hint: "the executable or its interpreter/libraries are not mounted; "
                                       + "add their directory to `filesystem: read-only`", exitCode: 127)
            }
            return LaunchError(step: "execve \(path)", errno: err, message: "command cannot be executed",
                               hint: err == EACCES ? "check its permissions, and that its mount is not noexec" : nil,
                               exitCode: 126)
        case LPA_STEP_FS_OP:
            let hint: String?
            switch err {
            case EROFS: hint = "the mount point lies inside a read-only bind; bind a parent directory instead"
            case ESTALE: hint = "the pinned file was replaced after it was verified; nothing was started"
            case EINVAL where mounts.steps.indices.contains(index) && mounts.steps[index].kind == LPA_FS_ATTACH:
                hint = "the kernel could not attach the noswap tmpfs"
            default: hint = permissionHint
            }
            return LaunchError(step: mounts.describe(step: index, in: plan), errno: err,
                               message: "could not set up the sandbox filesystem", hint: hint)
        case LPA_STEP_RLIMIT:
            let name = plan.rlimits.indices.contains(index) ? plan.rlimits[index].resource : "\(index)"
            return LaunchError(step: "rlimit \(name)", errno: err, message: "could not set the resource limit",
                               hint: "a limit cannot exceed the hard limit lpa-run itself was started with")
        default:
            return LaunchError(step: Self.stepName(report.step), errno: err,
                               message: "could not apply this part of the plan", hint: permissionHint)
        }
    }

    static func stepName(_ step: Int32) -> String {
        switch lpa_step(UInt32(step)) {
        case LPA_STEP_WAIT_PARENT: "die-with-parent"
        case LPA_STEP_SETHOSTNAME: "sethostname"
        case LPA_STEP_LOOPBACK: "bring up loopback"
        case LPA_STEP_MAKE_PRIVATE: "make / private (mount namespace)"
        case LPA_STEP_ROOT_TMPFS: "tmpfs root"
        case LPA_STEP_PIVOT_ROOT: "pivot_root"
        case LPA_STEP_DETACH_OLD_ROOT: "detach host root"
        case LPA_STEP_CHDIR: "chdir to the working directory"
        case LPA_STEP_FORK_WORKLOAD: "fork workload"
        case LPA_STEP_SIGNALS: "signal forwarding"
        case LPA_STEP_CLOSE_FDS: "close inherited descriptors"
        case LPA_STEP_CAPS_BOUNDING: "drop capabilities (bounding set)"
        case LPA_STEP_CAPS_AMBIENT: "drop capabilities (ambient set)"
        case LPA_STEP_CAPS_SET: "drop capabilities (capset)"
        case LPA_STEP_NO_NEW_PRIVS: "no_new_privs"
        case LPA_STEP_SECCOMP: "load seccomp filter"
        default: "sandbox setup step \(step)"
        }
    }
}
