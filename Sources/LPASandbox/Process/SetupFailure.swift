#if canImport(Glibc)
import Glibc
#endif
import CWindow
import LPAPolicy

/// The report pipe between the post-clone window and the launcher: every failed step
/// writes `(step, index, errno)` (struct lpa_report) and exits; EOF without a report
/// means the workload's execve succeeded. This file turns a report into a LaunchError
/// that names the step (with the profile line for mount steps) and a hint.
struct SetupFailure {
    let report: lpa_report

    /// nil when the pipe closed without a report: the workload's execve succeeded.
    static func read(from fd: Int32) -> SetupFailure? {
        var report = lpa_report()
        let size = MemoryLayout<lpa_report>.size
        var got = 0
        while got < size {
            let n = withUnsafeMutableBytes(of: &report) { Glibc.read(fd, $0.baseAddress! + got, size - got) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        return got == size ? SetupFailure(report: report) : nil
    }

    /// `mounts` is nil in the degraded mode (no mounts), which passes its own `landlock`.
    func explain(plan: IsolationPlan, mounts: MountSteps?, landlock: LandlockRules? = nil) -> LaunchError {
        let err = report.err
        let index = Int(report.index)
        let permissionHint = err == EPERM ? UserNamespace.diagnosis() : nil
        switch lpa_step(UInt32(report.step)) {
        case LPA_STEP_EXECVE:
            let path = plan.command.executable ?? ""
            if err == ENOENT || err == ENOTDIR {
                return LaunchError(step: "execve \(path)", errno: err, message: "command not found inside the sandbox",
                                   hint: "the executable or its interpreter/libraries are not mounted; "
                                       + "add their directory to `filesystem: read-only`",
                                   exitCode: LPAExitCode.notFound)
            }
            return LaunchError(step: "execve \(path)", errno: err, message: "command cannot be executed",
                               hint: err == EACCES ? "check its permissions, and that its mount is not noexec" : nil,
                               exitCode: LPAExitCode.notExecutable)
        case LPA_STEP_FS_OP:
            let hint: String?
            switch err {
            case EROFS: hint = "the mount point lies inside a read-only bind; bind a parent directory instead"
            case ESTALE: hint = "the bind source (a pinned file, or a path checked for planted links) was replaced "
                + "between the check and the mount; nothing was started"
            case ELOOP, EXDEV:
                hint = "a component of the mount target is a symbolic link (perhaps left by an earlier run in a "
                    + "read-write directory); lpa-run never follows links in mount targets: remove the link"
            case EACCES: hint = "the sandbox user (uid \(plan.identity.uid) on the host; never root) cannot reach this path"
            case EINVAL where mounts.map { $0.steps.indices.contains(index) && $0.steps[index].kind == LPA_FS_ATTACH } == true:
                hint = "the kernel could not attach the noswap tmpfs"
            default: hint = permissionHint
            }
            return LaunchError(step: mounts?.describe(step: index, in: plan) ?? "filesystem step \(index)", errno: err,
                               message: "could not set up the sandbox filesystem", hint: hint)
        case LPA_STEP_RLIMIT:
            let name = plan.rlimits.indices.contains(index) ? plan.rlimits[index].resource : "\(index)"
            return LaunchError(step: "rlimit \(name)", errno: err, message: "could not set the resource limit",
                               hint: "a limit cannot exceed the hard limit lpa-run itself was started with")
        case LPA_STEP_LANDLOCK_RULES:
            let step = (landlock ?? LandlockRules(plan: plan.landlock, steps: mounts?.steps ?? [])).describe(index: index)
            let hint = err == EOPNOTSUPP || err == ENOSYS
                ? "the profile says `landlock: required` and this kernel has no Landlock (see `lpa-run doctor`); "
                    + "use `landlock: best-effort` to run without it"
                : nil
            return LaunchError(step: step, errno: err, message: "could not apply the Landlock ruleset", hint: hint)
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
        case LPA_STEP_CONNECT_LISTEN: "listen for a host endpoint inside"
        case LPA_STEP_CONTROL: "relay control socket"
        case LPA_STEP_AUDIT: "hand over the audit listener"
        case LPA_STEP_SETSID: "new session (setsid)"
        case LPA_STEP_TERMINAL: "relayed terminal"
        case LPA_STEP_LANDLOCK: "Landlock scopes"
        case LPA_STEP_INIT_FILTER: "confine the init (not dumpable, no_new_privs, seccomp)"
        case LPA_STEP_SET_IDS: "become the sandbox user (setresuid)"
        case LPA_STEP_LANDLOCK_RULES: "Landlock ruleset"
        case LPA_STEP_DNS_LISTEN: "listen on 127.0.0.1:53 inside (the DNS sink)"
        default: "sandbox setup step \(step)"
        }
    }
}
