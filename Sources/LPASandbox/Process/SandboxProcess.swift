#if canImport(Glibc)
import Glibc
#endif
import CShims
import CWindow
import LPAPolicy

/// The sandbox's init, seen from the launcher: clone(2) through the post-clone window
/// (window.c `lpa_spawn`) with one flat `lpa_spec` built here, then the handshake:
/// id maps, the start byte, the setup report, the tmpfs usage at exit.
final class SandboxProcess {
    /// The init's pid, as the host sees it.
    let pid: pid_t
    private var sync: Int32
    private var report: Int32
    private let usage: Int32

    /// What the init needs from every concern, prepared on the host side before clone.
    struct Parts {
        var plan: IsolationPlan
        var executable: String
        var mounts: MountSteps
        var network: NetworkSetup
        var filter: SeccompFilter
        var audit: AuditSupervisor?
        var caps: CapabilitySets
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

        let sync = try makePipe("sync pipe")
        let usage = try makePipe("tmpfs usage pipe")
        let report = try makePipe("report pipe")

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
        spec.uid = plan.identity.sandboxUid
        spec.gid = plan.identity.sandboxGid
        spec.sync_fd = sync.read
        spec.report_fd = report.write
        spec.control_fd = parts.network.control?.sandbox ?? -1
        spec.audit_fd = parts.audit?.channel.sandbox ?? -1
        spec.usage_fd = usage.write
        spec.connect_ports = UnsafePointer(arena.array(parts.network.connectSandboxPorts))
        spec.connect_port_count = parts.network.connectSandboxPorts.count

        let pid = withUnsafePointer(to: &program) { prog -> pid_t in
            spec.seccomp = prog
            return lpa_spawn(&spec)
        }
        let spawnErrno = errno
        // The init holds its own copies now; ours would keep the pipes from reaching EOF.
        close(sync.read)
        close(report.write)
        close(usage.write)
        parts.network.closeSandboxEnd()
        parts.audit?.closeSandboxEnd()
        if pid < 0 {
            close(sync.write)
            close(report.read)
            close(usage.read)
            throw LaunchError(step: "clone namespaces", errno: spawnErrno,
                              message: "could not create the sandbox's namespaces",
                              hint: UserNamespace.diagnosis())
        }
        return SandboxProcess(pid: pid, sync: sync.write, report: report.read, usage: usage.read)
    }

    private init(pid: pid_t, sync: Int32, report: Int32, usage: Int32) {
        self.pid = pid
        self.sync = sync
        self.report = report
        self.usage = usage
    }

    /// Writes the id maps, starts forwarding signals to the init and lets it go on.
    /// Any failure takes the init down before it has done anything.
    func start(identity: Identity) throws(LaunchError) {
        defer { closeSync() }
        do {
            try UserNamespace.writeIdMaps(pid: pid, identity: identity)
            _ = lpa_forward_signals_to(pid)
            var go: UInt8 = 1
            try sys("start sandbox") { write(sync, &go, 1) }
        } catch {
            killAndReap()
            throw error
        }
    }

    /// Blocks until the workload's execve succeeded (nil) or a setup step failed.
    func awaitSetup() -> SetupFailure? {
        let failure = SetupFailure.read(from: report)
        close(report)
        report = -1
        return failure
    }

    /// The init's exit status: the workload's, 128+N for a signal.
    func wait() -> Int32 { ProcessStatus.wait(for: pid) }

    func killAndReap() {
        kill(pid, SIGKILL)
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
        close(usage)
    }

    private static func makePipe(_ what: String) throws(LaunchError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        try sys(what) { lpa_pipe_cloexec(&fds) }
        return (fds[0], fds[1])
    }
}
