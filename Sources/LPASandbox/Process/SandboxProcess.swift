#if canImport(Glibc)
import Glibc
#endif
import CShims
import CSupervisor  // SOCK_SEQPACKET, SOCK_CLOEXEC: the release build (whole-module) does not see them through Glibc alone
import CWindow
import LPAPolicy

/// The sandbox's init, seen from the launcher: clone(2) through the post-clone window
/// (window.c `lpa_spawn`) with one flat `lpa_spec` built here, then the handshake:
/// id maps, the start byte, the setup report, the relayed terminal, the tmpfs usage
/// at exit.
final class SandboxProcess {
    /// The init's pid, as the host sees it.
    let pid: pid_t
    /// The init's pidfd: signals reach it through this, never a recycled pid.
    private let pidfd: Int32
    private var sync: Int32
    private var report: Int32
    private let usage: Int32
    /// lpa-run's end of the socket the init sends the pty's master on, or -1.
    private var console: Int32

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
    }

    /// How the setup ended.
    enum Setup {
        case started
        case failed(SetupFailure)
        /// SIGINT, SIGTERM, SIGHUP or SIGQUIT arrived first: the init was killed.
        case interrupted(Int32)
    }

    /// clone()s the init with the plan's namespaces. It waits for `start` before it
    /// touches anything.
    static func spawn(_ parts: Parts) throws(LaunchError) -> SandboxProcess {
        let plan = parts.plan
        try UserNamespace.dropSupplementaryGroups()
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

        let sync = try makePipe("sync pipe")
        let usage = try makePipe("tmpfs usage pipe")
        let report = try makePipe("report pipe")
        var console: [Int32] = [-1, -1]
        if parts.terminal?.needsPty == true {
            try sys("terminal socket") {
                socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &console)
            }
        }

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
        spec.sync_fd = sync.read
        spec.sync_write_fd = sync.write
        spec.launcher_pid = getpid()
        spec.report_fd = report.write
        if let areas = Self.argumentAreas() {
            (spec.arg_area, spec.arg_area_len) = areas.arguments
            (spec.env_area, spec.env_area_len) = areas.environment
        }
        spec.console_fd = console[1]
        spec.null_stdin = parts.terminal?.nullStdin == true ? 1 : 0
        if let terminal = parts.terminal, terminal.needsPty {
            spec.tty_fd_mask = terminal.mask
            spec.termios = UnsafeRawPointer(arena.array([terminal.settings]))
            spec.winsize = terminal.size.map { UnsafeRawPointer(arena.array([$0])) }
        }
        spec.control_fd = parts.network.control?.sandbox ?? -1
        spec.audit_fd = parts.audit?.channel.sandbox ?? -1
        spec.usage_fd = usage.write
        spec.connect_ports = UnsafePointer(arena.array(parts.network.connectSandboxPorts))
        spec.connect_port_count = parts.network.connectSandboxPorts.count
        spec.dns_sink = parts.network.dnsSink ? 1 : 0
        if parts.network.connectSandboxPaths.contains(where: { $0 != nil }) {
            let paths: [UnsafePointer<CChar>?] = parts.network.connectSandboxPaths.map { path in
                path.map { UnsafePointer(arena.string($0)) }
            }
            spec.connect_paths = UnsafePointer(arena.array(paths))
        }

        let pid = withUnsafePointer(to: &program) { prog -> pid_t in
            spec.seccomp = prog
            return lpa_spawn(&spec)
        }
        let spawnErrno = errno
        // The init holds its own copies now; ours would keep the pipes from reaching EOF.
        close(sync.read)
        close(report.write)
        close(usage.write)
        if console[1] >= 0 { close(console[1]) }
        parts.network.closeSandboxEnd()
        parts.audit?.closeSandboxEnd()
        let pidfd = pid < 0 ? -1 : lpa_pidfd_open(pid)
        let pidfdErrno = errno
        if pid < 0 || pidfd < 0 {
            if pid > 0 {
                kill(pid, SIGKILL)
                _ = ProcessStatus.wait(for: pid)
            }
            close(sync.write)
            close(report.read)
            close(usage.read)
            if console[0] >= 0 { close(console[0]) }
            if pid > 0 {
                throw LaunchError(step: "pidfd_open", errno: pidfdErrno, message: "cannot hold the sandbox's init",
                                  hint: "pidfd needs Linux 5.3 or later")
            }
            throw LaunchError(step: "clone namespaces", errno: spawnErrno,
                              message: "could not create the sandbox's namespaces",
                              hint: UserNamespace.diagnosis())
        }
        return SandboxProcess(pid: pid, pidfd: pidfd, sync: sync.write, report: report.read, usage: usage.read,
                              console: console[0])
    }

    private init(pid: pid_t, pidfd: Int32, sync: Int32, report: Int32, usage: Int32, console: Int32) {
        self.pid = pid
        self.pidfd = pidfd
        self.sync = sync
        self.report = report
        self.usage = usage
        self.console = console
    }

    /// Writes the id maps, takes over the signals that stop or are forwarded, and lets
    /// the init go on. Any failure takes the init down before it has done anything.
    func start(identity: Identity) throws(LaunchError) {
        defer { closeSync() }
        do {
            try UserNamespace.writeIdMaps(pid: pid, identity: identity)
            try sys("signal handlers") { lpa_launcher_signals_setup(pidfd) }
            var go: UInt8 = 1
            try sys("start sandbox") { write(sync, &go, 1) }
        } catch {
            killAndReap()
            throw error
        }
    }

    /// Blocks until the workload's execve succeeded or a setup step failed. A stopping
    /// signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) is recorded and forwarded when the setup
    /// is over (the init may not have its handlers before), so it reaches the workload
    /// should it start; a setup that has not finished a second later (a stuck mount, a
    /// stopped init) is killed: nothing runs.
    func awaitSetup() -> Setup {
        var ticksSinceSignal = 0
        var killed = false
        while true {
            var ready = pollfd(fd: report, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, 100) > 0 { break }
            guard lpa_launcher_interruption() != 0 else { continue }
            ticksSinceSignal += 1
            if ticksSinceSignal >= 10 {
                _ = lpa_pidfd_send_signal(pidfd, SIGKILL)
                killed = true
                break
            }
        }
        let failure = SetupFailure.read(from: report)
        close(report)
        report = -1
        let interrupted = lpa_launcher_signals_running()
        if let failure { return .failed(failure) }
        return killed ? .interrupted(interrupted) : .started
    }

    /// SIGINT, SIGTERM, SIGHUP or SIGQUIT received while the sandbox was being set up, or 0.
    var stopSignalDuringSetup: Int32 { lpa_launcher_interruption() }

    /// The pty's master, sent by the init before it forked the workload.
    func receiveTerminal() throws(LaunchError) -> Int32 {
        defer {
            close(console)
            console = -1
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
    func wait() -> Int32 { ProcessStatus.wait(for: pid) }

    func killAndReap() {
        _ = lpa_pidfd_send_signal(pidfd, SIGKILL)
        _ = wait()
    }

    /// What the workload left in the sandbox's tmpfs mounts (written by the init at exit).
    func tmpfsBytesDiscarded() -> UInt64? {
        var value: UInt64 = 0
        let n = withUnsafeMutableBytes(of: &value) { read(usage, $0.baseAddress, $0.count) }
        return n == MemoryLayout<UInt64>.size ? value : nil
    }

    private func closeSync() {
        if sync >= 0 { close(sync) }
        sync = -1
    }

    deinit {
        closeSync()
        if report >= 0 { close(report) }
        if console >= 0 { close(console) }
        close(usage)
        close(pidfd)
    }

    /// Where the kernel keeps lpa-run's argv and environment strings (/proc/self/stat
    /// fields 48-51): the init clears its copy of both.
    static func argumentAreas() -> (arguments: (UnsafeMutablePointer<CChar>?, Int),
                                    environment: (UnsafeMutablePointer<CChar>?, Int))? {
        guard let stat = readSmallFile("/proc/self/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ").map { UInt($0) }
        guard fields.count >= 49, let argStart = fields[45], let argEnd = fields[46],
              let envStart = fields[47], let envEnd = fields[48],
              argEnd >= argStart, envEnd >= envStart else { return nil }
        return ((UnsafeMutablePointer(bitPattern: argStart), Int(argEnd - argStart)),
                (UnsafeMutablePointer(bitPattern: envStart), Int(envEnd - envStart)))
    }

    private static func makePipe(_ what: String) throws(LaunchError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        try sys(what) { lpa_pipe_cloexec(&fds) }
        return (fds[0], fds[1])
    }
}
