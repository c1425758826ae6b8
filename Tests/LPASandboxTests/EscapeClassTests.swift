import Foundation
import Testing

/// Every escape class the strict profile blocks, tried for real by lpa-probe with
/// harmless arguments. Many of these calls would also fail for lack of capabilities;
/// the "marked" run uses an errno the kernel never returns for them (ENOTRECOVERABLE)
/// to prove that the seccomp filter, not a missing capability, stopped each one.
@Suite("strict sandbox: escape classes", .serialized)
struct EscapeClassTests {
    static let deniedByPolicy = [
        "ptrace", "process_vm_readv", "mount", "umount2", "pivot_root", "unshare", "clone-newuser", "setns",
        "io_uring_setup", "userfaultfd", "bpf", "perf_event_open", "keyctl", "add_key", "open_by_handle_at",
        "init_module", "finit_module", "kexec_load", "reboot", "swapon",
        "ioctl-tiocsti", "ioctl-tiocsti-highbits", "ioctl-tioclinux",
    ]

    static var markedProfile: String {
        Binaries.shared.profile(named: "strict-marked", """
            description: strict, with an errno the kernel never returns for the probed calls
            extends: strict
            seccomp:
              errno: ENOTRECOVERABLE
            """)
    }

    @Test("each escape class is denied with EPERM", arguments: Runner.all)
    func deniedWithEPERM(runner: Runner) throws {
        let result = try runner.probe(["syscalls"])
        #expect(result.status == 0, "\(result.stderr)")
        let f = result.fields
        for name in Self.deniedByPolicy {
            #expect(f[name] == "EPERM", "\(name): \(f[name] ?? "missing")")
        }
        #expect(f["clone3"] == "ENOSYS", "clone3 must fail with ENOSYS so glibc falls back to clone")
        #expect(f["socket-netlink"] == "EAFNOSUPPORT")
        #expect(f["socket-packet"] == "EAFNOSUPPORT")
        #expect(f["socket-inet"] == "ok")
        #expect(f["socket-unix"] == "ok")
        // i386 entry point: the process is killed (SIGSYS), the call never runs.
        #expect(f["int80"] == "killed-by-signal-31")
    }

    @Test("each escape class is stopped by the seccomp filter itself", arguments: Runner.all)
    func deniedBySeccomp(runner: Runner) throws {
        let result = try runner.probe(["syscalls"], profile: Self.markedProfile)
        #expect(result.status == 0, "\(result.stderr)")
        let f = result.fields
        for name in Self.deniedByPolicy {
            #expect(f[name] == "ENOTRECOVERABLE", "\(name): \(f[name] ?? "missing")")
        }
    }
}
