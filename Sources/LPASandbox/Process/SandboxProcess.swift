#if canImport(Glibc)
import Glibc
#endif
import CShims
import CSupervisor  // SOCK_SEQPACKET, SOCK_CLOEXEC: the release build (whole-module) does not see them through Glibc alone
import CLaunch
import CWindow
import LPAPolicy

/// The sandbox's init, seen from the launcher: clone(2) through the post-clone window
/// (window.c `lpa_spawn`) with one flat `lpa_spec` built here, then the handshake:
/// id maps, the start byte, the setup report, the relayed terminal, the tmpfs usage
/// at exit.
final class SandboxProcess {
    /// The init's pid, as the host sees it.
    let pid: pid_t
    /// The launch's descriptors (pidfd, pipes, console), CLaunch's.
    private var launch: lpa_launch

    /// What the init needs from every concern, prepared on the host side before clone.
    struct Parts {
        var plan: IsolationPlan
        var executable: String
        var mounts: MountSteps
        var network: NetworkSetup
        var filter: SeccompFilter
        var audit: AuditSupervisor?
        var caps: CapabilitySets
        /// The caller's terminal, relayed through a pty of the sandbox's own (nil: none).
        var terminal: CallerTerminal?
        /// Keep this launch as a launch record (CLaunch record.c), with this manifest.
        var record: LaunchRecord.Request?
    }

    /// How the setup ended.
    enum Setup {
        case started
        case failed(SetupFailure)
        /// SIGINT, SIGTERM, SIGHUP or SIGQUIT arrived first: the init was killed.
        case interrupted(Int32)
    }

    /// clone()s the init with the plan's namespaces (CLaunch `lpa_launch_spawn`, the one
    /// executor). It waits for `start` before it touches anything.
    static func spawn(_ parts: Parts) throws(LaunchError) -> SandboxProcess {
        let plan = parts.plan
        var failure = lpa_launch_error()
        guard lpa_launch_drop_groups(&failure) == 0 else { throw LaunchError(failure) }
        let arena = CStringArena()
        let ops = parts.mounts.cOps(arena: arena)
        let rlimits = plan.rlimits.map {
            lpa_rlimit(resource: $0.number, soft: $0.soft ?? UInt64.max, hard: $0.hard ?? UInt64.max)
        }
        let env = plan.environment.set.map { "\($0.name)=\($0.value)" }
        let instructions = arena.array(parts.filter.instructions)
        var program = sock_fprog(len: UInt16(parts.filter.instructions.count), filter: instructions)
        let keep = arena.array(parts.caps.keep)
        let landlock = LandlockRules(plan: plan.landlock, steps: parts.mounts.steps)

        var spec = lpa_spec()
        spec.clone_flags = Namespace.cloneFlags(plan.namespaces)
        spec.new_pid_ns = plan.namespaces.contains(.pid) ? 1 : 0
        spec.new_net_ns = parts.network.newNamespace ? 1 : 0
        spec.hostname = plan.namespaces.contains(.uts) ? UnsafePointer(arena.string(plan.hostname)) : nil
        spec.fs_ops = UnsafePointer(arena.array(ops))
        spec.fs_op_count = ops.count
        spec.workdir = UnsafePointer(arena.string(plan.workingDirectory))
        spec.exec_path = UnsafePointer(arena.string(parts.executable))
        spec.argv = UnsafePointer(arena.stringArray(plan.command.argv))
        spec.envp = UnsafePointer(arena.stringArray(env))
        spec.rlimits = UnsafePointer(arena.array(rlimits))
        spec.rlimit_count = rlimits.count
        spec.caps = UnsafeMutableRawPointer(parts.caps.caps)
        spec.keep_caps = UnsafePointer(keep)
        spec.keep_cap_count = parts.caps.keep.count
        spec.last_cap = parts.caps.lastCap
        landlock.fill(&spec, arena: arena)
        spec.uid = plan.identity.sandboxUid
        spec.gid = plan.identity.sandboxGid
        // Where the kernel keeps lpa-run's argv and environment: the init clears its copy.
        lpa_argument_areas(&spec)
        // Made by lpa_launch_spawn (the terminal socket when asked for) with the pipes.
        spec.console_fd = -1
        spec.null_stdin = parts.terminal?.nullStdin == true ? 1 : 0
        if let terminal = parts.terminal, terminal.needsPty {
            spec.tty_fd_mask = terminal.mask
            spec.termios = UnsafeRawPointer(arena.array([terminal.settings]))
            spec.winsize = terminal.size.map { UnsafeRawPointer(arena.array([$0])) }
        }
        spec.control_fd = parts.network.control?.sandbox ?? -1
        spec.audit_fd = parts.audit?.channel.sandbox ?? -1
        spec.connect_ports = UnsafePointer(arena.array(parts.network.connectSandboxPorts))
        spec.connect_port_count = parts.network.connectSandboxPorts.count
        spec.dns_sink = parts.network.dnsSink ? 1 : 0
        if parts.network.connectSandboxPaths.contains(where: { $0 != nil }) {
            let paths: [UnsafePointer<CChar>?] = parts.network.connectSandboxPaths.map { path in
                path.map { UnsafePointer(arena.string($0)) }
            }
            spec.connect_paths = UnsafePointer(arena.array(paths))
        }

        var launch = lpa_launch()
        var record: [UInt8]?
        let spawned = withUnsafePointer(to: &program) { prog -> Int32 in
            spec.seccomp = prog
            if let request = parts.record {
                record = LaunchRecord.encode(spec: spec, hostSteps: parts.mounts.cHostSteps(arena: arena),
                                             auditRules: parts.audit?.rules ?? [], request: request, plan: plan,
                                             arena: arena)
            }
            return lpa_launch_spawn(&spec, parts.terminal?.needsPty == true ? 1 : 0, &launch, &failure)
        }
        // The init holds its own copies now.
        parts.network.closeSandboxEnd()
        parts.audit?.closeSandboxEnd()
        guard spawned == 0 else {
            if String(cString: failure.step) == "pidfd_open" {
                throw LaunchError(step: "pidfd_open", errno: failure.err, message: "cannot hold the sandbox's init",
                                  hint: "pidfd needs Linux 5.3 or later")
            }
            if String(cString: failure.step) == "clone namespaces" {
                throw LaunchError(step: "clone namespaces", errno: failure.err,
                                  message: "could not create the sandbox's namespaces",
                                  hint: UserNamespace.diagnosis())
            }
            throw LaunchError(failure)
        }
        return SandboxProcess(launch: launch, record: record)
    }

    private init(launch: lpa_launch, record: [UInt8]?) {
        self.launch = launch
        self.pid = launch.pid
        self.record = record
    }

    /// This launch, encoded as a launch record: written once the workload has started.
    let record: [UInt8]?

    /// Writes the id maps, takes over the signals that stop or are forwarded, and lets
    /// the init go on. Any failure takes the init down before it has done anything.
    func start(identity: Identity) throws(LaunchError) {
        var failure = lpa_launch_error()
        guard lpa_launch_start(&launch, identity.sandboxUid, identity.uid, identity.sandboxGid, identity.gid,
                               &failure) == 0 else {
            let step = String(cString: failure.step)
            throw LaunchError(step: step, errno: failure.err, message: "failed",
                              hint: step.hasPrefix("user namespace: ") && step != "user namespace: setgroups deny"
                                  ? UserNamespace.diagnosis() : nil)
        }
    }

    /// Blocks until the workload's execve succeeded or a setup step failed
    /// (`lpa_launch_await_setup` says how signals and a stuck setup are handled).
    func awaitSetup() -> Setup {
        var report = lpa_report()
        var signal: Int32 = 0
        switch lpa_launch_await_setup(&launch, &report, &signal) {
        case LPA_SETUP_FAILED: return .failed(SetupFailure(report: report))
        case LPA_SETUP_INTERRUPTED: return .interrupted(signal)
        default: return .started
        }
    }

    /// SIGINT, SIGTERM, SIGHUP or SIGQUIT received while the sandbox was being set up, or 0.
    var stopSignalDuringSetup: Int32 { lpa_launcher_interruption() }

    /// The pty's master, sent by the init before it forked the workload.
    func receiveTerminal() throws(LaunchError) -> Int32 {
        let console = launch.console_fd
        defer {
            close(console)
            launch.console_fd = -1
        }
        var ready = pollfd(fd: console, events: Int16(POLLIN), revents: 0)
        var handover = lpa_terminal_handover()
        var fd: Int32 = -1
        var count = 0
        let got = poll(&ready, 1, 10_000) == 1
            ? lpa_fdpass_recv(console, 0, &handover, MemoryLayout<lpa_terminal_handover>.size, &fd, 1, &count) : -1
        guard got == MemoryLayout<lpa_terminal_handover>.size, count == 1,
              handover.tag == UInt32(LPA_TERMINAL_HANDOVER_TAG) else {
            if count == 1 { close(fd) }
            throw LaunchError(step: "terminal relay", errno: got < 0 ? errno : EPROTO,
                              message: "the sandbox did not hand over its terminal")
        }
        return fd
    }

    /// The init's exit status: the workload's, 128+N for a signal.
    func wait() -> Int32 { lpa_launch_wait(&launch) }

    func killAndReap() { lpa_launch_kill(&launch) }

    /// What the workload left in the sandbox's tmpfs mounts (written by the init at exit).
    func tmpfsBytesDiscarded() -> UInt64? {
        var value: UInt64 = 0
        return lpa_launch_tmpfs_usage(&launch, &value) == 0 ? value : nil
    }

    deinit {
        lpa_launch_release(&launch)
    }
}
