#if canImport(Glibc)
import Glibc
#endif
import CShims
import CWindow
import LPAPolicy

/// `--isolation landlock`: the degraded mode for hosts where user namespaces are
/// blocked. A second, separate path (Launcher.run branches here first): no clone with
/// namespaces, no init, no mounts, no relay. It reuses the concerns that do not need a
/// namespace: pins, the seccomp filter (plus the mode's own socket filter), Landlock
/// (rules on host paths, TCP ports, scopes), rlimits, the scrubbed environment, and the
/// workload's path in window.c (`lpa_degraded_spawn` → `exec_workload`). What it
/// cannot protect is in the plan (`degraded.losses`) and printed at start-up.
struct DegradedLauncher {
    let plan: IsolationPlan
    let degraded: DegradedPlan
    var options: LaunchOptions

    func run() throws(LaunchError) -> LaunchResult {
        let executable = try preflight()
        let verified = try PinVerifier(plan: plan, quiet: options.quiet, verbose: options.verbose).verify()
        defer { verified.close() }
        let filter = try SeccompFilter(plan: plan.seccomp, cache: .shared)
        let sockets = try SeccompFilter(plan: degraded.seccomp, cache: .shared)
        let caps = try CapabilitySets(plan: CapabilityPlan(keep: []))
        let asRoot = getuid() == 0 || geteuid() == 0

        let home = try PrivateDirectory.create(parent: degraded.privateParent, uid: plan.identity.uid,
                                               gid: plan.identity.gid)
        defer { home.remove() }
        writeStandardError(Self.startupMessage(degraded, privateDirectory: home.path))

        var landlock = LandlockRules(plan: plan.landlock, steps: [])
        landlock.rules = try landlock.rules.map(Self.resolved)
        landlock.rules.append(.init(path: home.path, access: LandlockAccess.mask(LandlockAccess.readWrite),
                                    optional: false))
        let arena = CStringArena()
        let rlimits = plan.rlimits.map {
            lpa_rlimit(resource: $0.number, soft: $0.soft ?? UInt64.max, hard: $0.hard ?? UInt64.max)
        }
        let env = plan.environment.set.map { "\($0.name)=\(home.substitute($0.value))" }
        let report = try Self.makePipe()

        var spec = lpa_spec()
        spec.workdir = UnsafePointer(arena.string(home.substitute(plan.workingDirectory)))
        spec.exec_path = UnsafePointer(arena.string(executable))
        spec.argv = UnsafePointer(arena.stringArray(plan.command.argv))
        spec.envp = UnsafePointer(arena.stringArray(env))
        spec.rlimits = UnsafePointer(arena.array(rlimits))
        spec.rlimit_count = rlimits.count
        spec.caps = nil
        spec.last_cap = caps.lastCap
        landlock.fill(&spec, arena: arena)
        spec.uid = plan.identity.uid
        spec.gid = plan.identity.gid
        spec.degraded_set_ids = asRoot ? 1 : 0
        spec.launcher_pid = getpid()
        spec.report_fd = report.write
        spec.audit_fd = -1
        spec.console_fd = -1
        spec.control_fd = -1
        spec.usage_fd = -1
        spec.sync_fd = -1
        spec.sync_write_fd = -1

        var program = sock_fprog(len: UInt16(filter.instructions.count), filter: arena.array(filter.instructions))
        var extra = sock_fprog(len: UInt16(sockets.instructions.count), filter: arena.array(sockets.instructions))
        let pid = withUnsafePointer(to: &program) { prog in
            withUnsafePointer(to: &extra) { extraProg -> pid_t in
                spec.seccomp = prog
                spec.extra_seccomp = extraProg
                return lpa_degraded_spawn(&spec)
            }
        }
        let spawnErrno = errno
        close(report.write)
        guard pid > 0 else {
            close(report.read)
            throw LaunchError(step: "fork", errno: spawnErrno, message: "could not start the workload")
        }
        let pidfd = lpa_pidfd_open(pid)
        if pidfd >= 0 { _ = lpa_launcher_signals_setup(pidfd) }
        defer { if pidfd >= 0 { close(pidfd) } }
        let failure = SetupFailure.read(from: report.read)
        close(report.read)
        _ = lpa_launcher_signals_running()
        if let failure {
            _ = ProcessStatus.wait(for: pid)
            throw failure.explain(plan: plan, mounts: nil, landlock: landlock)
        }
        // What the workload left in its process group (no pid namespace takes it down):
        // killed while the workload is still a zombie, so its pid, which is the group's
        // id (setsid), cannot have been reused by an unrelated process.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        kill(-pid, SIGKILL)
        return LaunchResult(exitStatus: ProcessStatus.wait(for: pid))
    }

    /// A rule's host path with its links resolved (merged /usr: /bin is a link), which
    /// the window would refuse (it opens rule paths without following links). Only links
    /// owned by root are followed, as for binds in the normal mode: a link another user
    /// planted would grant its target.
    static func resolved(_ rule: LandlockRules.Rule) throws(LaunchError) -> LandlockRules.Rule {
        var rule = rule
        do throws(FilePaths.Resolution) {
            let fd = try FilePaths.openFollowingRootLinksOnly(rule.path)
            defer { close(fd) }
            if let path = FilePaths.path(ofDescriptor: fd) { rule.path = path }
        } catch {
            switch error {
            case .failed(let err) where err == ENOENT && rule.optional: break
            case .failed(let err):
                throw LaunchError(step: "Landlock rule for \(rule.path)", errno: err, message: "cannot open the path")
            case .link(let path, let uid):
                throw LaunchError(step: "Landlock rule for \(rule.path)", errno: ELOOP,
                                  message: "\(path) is a link owned by uid \(uid), not root: it is not followed")
            }
        }
        return rule
    }

    private func preflight() throws(LaunchError) -> String {
        guard let executable = plan.command.executable else {
            throw LaunchError(step: "resolve command", errno: ENOENT,
                              message: "command not found: \(plan.command.argv.first ?? "")",
                              hint: "check the name and PATH, or give an absolute path",
                              exitCode: LPAExitCode.notFound)
        }
        guard plan.noNewPrivs, plan.landlock.mode == .required else {
            throw LaunchError(step: "isolation landlock", message: "a degraded plan needs no_new_privs and Landlock")
        }
        // The workload must never keep host root: the compiler picked SUDO_UID or nobody.
        guard plan.identity.uid != 0, plan.identity.runAs == .caller, plan.capabilities.keep.isEmpty else {
            throw LaunchError(step: "isolation landlock", message: "the workload would keep host root or capabilities",
                              hint: "run lpa-run through sudo, or as a user")
        }
        return executable
    }

    /// Printed on stderr before the workload starts: the mode is never silent.
    static func startupMessage(_ degraded: DegradedPlan, privateDirectory: String) -> String {
        var text = "lpa-run: warning: --isolation landlock: DEGRADED mode, no namespaces (Landlock, seccomp, rlimits only); "
            + "private directory \(privateDirectory), removed at exit. Lost:\n"
        for loss in degraded.losses { text += "  - \(loss)\n" }
        return text
    }

    private static func makePipe() throws(LaunchError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        try sys("report pipe") { lpa_pipe_cloexec(&fds) }
        return (fds[0], fds[1])
    }
}
