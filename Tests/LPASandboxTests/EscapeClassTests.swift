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

    /// The unconditional errno rules of a profile's plan, by number (from `--dry-run`).
    static func deniedOutright(_ runner: Runner, profile: String) throws -> [Int: String] {
        let dry = try runner.run(["--profile", profile, "--dry-run", "--format", "json", Binaries.shared.probe])
        try #require(dry.status == 0, "\(dry.stderr)")
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any])
        let seccomp = try #require(plan["seccomp"] as? [String: Any])
        let rules = try #require(seccomp["rules"] as? [[String: Any]])
        var denied: [Int: String] = [:]
        for rule in rules {
            guard let number = rule["number"] as? Int, number >= 0, (rule["args"] as? [Any])?.isEmpty == true,
                  rule["action"] as? String == "errno(ENOTRECOVERABLE)", let name = rule["syscall"] as? String
            else { continue }
            denied[number] = name
        }
        return denied
    }

    /// Not only the named escape classes above: every syscall the plan denies without
    /// conditions (the new mount API, process_vm_writev, pidfd_getfd, kcmp, ...) is
    /// called for real and must come back with the plan's errno, answered by the filter
    /// (through the audit supervisor). The control allows one of them and sees it pass
    /// the filter.
    @Test("every syscall the plan denies outright is refused in a real sandbox; an allowed one is not (control)",
          arguments: Runner.all)
    func everyDeniedSyscallIsRefused(runner: Runner) throws {
        let denied = try Self.deniedOutright(runner, profile: Self.markedProfile)
        try #require(denied.count >= 50, "the strict plan lists \(denied.count) outright denials")
        let numbers = denied.keys.sorted()
        let result = try runner.probe(["nr"] + numbers.map(String.init), profile: Self.markedProfile)
        #expect(result.status == 0, "\(result.stderr)")
        for number in numbers {
            #expect(result.fields["nr-\(number)"] == "ENOTRECOVERABLE",
                    "\(denied[number] ?? "?") (\(number)): \(result.fields["nr-\(number)"] ?? "missing")")
        }

        let allowing = Binaries.shared.profile(named: "strict-marked-allow-kcmp", """
            extends: \(Self.markedProfile)
            seccomp:
              allow: [kcmp]
            """)
        let kcmp = try #require(denied.first { $0.value == "kcmp" }?.key)
        try #require(try Self.deniedOutright(runner, profile: allowing)[kcmp] == nil)
        let control = try runner.probe(["nr", String(kcmp)], profile: allowing)
        let answer = control.fields["nr-\(kcmp)"]
        #expect(answer != nil && answer != "ENOTRECOVERABLE", "kcmp allowed: \(control.stdout)\(control.stderr)")
    }
}
