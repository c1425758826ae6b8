import Foundation
import Testing

/// Red-team regressions for `lpa-run learn`: where the learned profile is written and
/// what can reach it, and bases that made learning hang or the learned profile fail.
@Suite("lpa-run learn: hardening", .serialized)
struct LearnHardeningTests {
    static let connectPortsBase = "extends: builtin:strict\nnetwork:\n  connect-ports: [80]\n"

    @Test("-o through a bind-mount alias of a --rw directory (or a subdirectory of it) is refused before the command runs",
          arguments: Runner.all)
    func outputThroughAliasOfWritableDirectory(runner: Runner) throws {
        try #require(getuid() == 0, "bind mounts need root")
        let top = try LearnTests.outputDirectory(runner)
        defer { top.remove() }
        let writable = top.path + "/rwd", alias = top.path + "/alias"
        for path in [writable, writable + "/sub", alias] {
            #expect(mkdir(path, 0o755) == 0 && chown(path, runner.callerUid, runner.callerUid) == 0)
        }
        // The alias is mounted in a mount namespace of lpa-run's own (util-linux unshare,
        // for the test only): the host's mount table stays as it is for the suites running
        // beside this one (the chaos suite compares it).
        let script = #"src=$0; dst=$1; shift; mount --bind "$src" "$dst" && exec "$@""#
        for output in [alias + "/learned.yaml", alias + "/sub/learned.yaml"] {
            let argv = ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script, writable, alias]
                + runner.command(["learn", "--rw", writable, "-o", output, "/bin/echo", "ran"])
            let child = try Spawned(argv, environment: runner.environment(), cwd: Binaries.shared.directory)
            let (status, stdout, stderr) = child.finish(seconds: 30)
            #expect(status == 125, "\(output): \(stderr)")
            #expect(stderr.contains("which the sandbox can write"), "\(stderr)")
            #expect(!stdout.contains("ran"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: writable) == ["sub"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: writable + "/sub").isEmpty)
    }

    @Test("-o creates nothing before the command has exited: a workload that can read the directory sees no temporary file",
          arguments: Runner.all)
    func noTemporaryFileWhileRunning(runner: Runner) throws {
        let directory = try LearnTests.outputDirectory(runner)
        defer { directory.remove() }
        let learned = directory.path + "/learned.yaml"
        let result = try runner.run(["learn", "--ro", directory.path, "-o", learned, "--", "/bin/ls", "-a", directory.path],
                                    within: 30)
        #expect(result.status == 0, "\(result.stderr)")
        let seen = result.stdout.split(separator: "\n").map(String.init)
        #expect(seen == [".", ".."], "the workload saw \(seen)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["learned.yaml"])
        var info = stat()
        #expect(stat(learned, &info) == 0 && info.st_mode & 0o777 == 0o644 && info.st_uid == runner.callerUid)
        #expect(try String(contentsOfFile: learned, encoding: .utf8).contains("  default: deny"))
    }

    @Test("without -o the profile alone goes to stdout; what the command prints there goes to stderr", arguments: Runner.all)
    func stdoutCarriesOnlyTheProfile(runner: Runner) throws {
        let result = try runner.run(["learn", "--", "/bin/echo", "network: {mode: host}"], within: 30)
        #expect(result.status == 0, "\(result.stderr)")
        // (The command line itself is quoted in a comment of the profile.)
        #expect(!result.stdout.split(separator: "\n").contains("network: {mode: host}"), "\(result.stdout)")
        #expect(result.stdout.hasPrefix("#") && result.stdout.contains("extends: \"builtin:strict\""), "\(result.stdout)")
        #expect(result.stderr.contains("network: {mode: host}"), "\(result.stderr)")
        // What went to stdout is a profile that passes check on its own.
        let directory = try LearnTests.outputDirectory(runner)
        defer { directory.remove() }
        let saved = directory.path + "/stdout.yaml"
        try result.stdout.write(toFile: saved, atomically: true, encoding: .utf8)
        chmod(saved, 0o644)
        let check = try runner.run(["check", saved], within: 30)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }

    @Test("learning under a base with connect-ports completes, and its learned profile runs", arguments: Runner.all)
    func learnUnderConnectPorts(runner: Runner) throws {
        let base = Binaries.shared.profile(named: "learn-connect-ports", Self.connectPortsBase)
        let directory = try LearnTests.outputDirectory(runner)
        defer { directory.remove() }
        let learned = directory.path + "/cp.yaml"
        // A TCP Fast Open send: connect-ports refuses it (EPERM, where strict alone gets
        // ECONNREFUSED from the sandbox's own loopback), while learning too.
        let script = """
            import socket
            s = socket.socket()
            try:
                s.sendmsg([b"x"], [], socket.MSG_FASTOPEN, ("127.0.0.1", 80)); print("sent")
            except OSError as e:
                print("errno", e.errno)
            """
        let learn = try runner.run(["learn", "--profile", base, "-o", learned, "/usr/bin/python3", "-c", script],
                                   within: 30)
        #expect(learn.status == 0 && learn.stdout.contains("errno 1\n"), "\(learn.stdout)\(learn.stderr)")
        let under = try runner.run(["--profile", learned, "/usr/bin/python3", "-c", script], within: 30)
        #expect(under.status == 0 && under.stdout.contains("errno 1\n"), "\(under.stdout)\(under.stderr)")
    }

    @Test("a default-deny allowlist with connect-ports (a rule with the filter's default action) runs", arguments: Runner.all)
    func defaultDenyWithConnectPorts(runner: Runner) throws {
        // The red team's allowlist (enough for /bin/true), sendmsg among it.
        let calls = ["access", "arch_prctl", "brk", "clone", "close", "connect", "execve", "exit_group", "getcwd",
                     "getdents64", "getegid", "geteuid", "getgid", "getpid", "getppid", "getrandom", "gettid",
                     "getuid", "ioctl", "kill", "mmap", "mprotect", "munmap", "newfstatat", "openat", "pause",
                     "pread64", "prlimit64", "read", "rseq", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
                     "sendmsg", "set_robust_list", "set_tid_address", "socket", "uname", "vfork", "wait4", "write"]
        let profile = Binaries.shared.profile(named: "deny-connect-ports", Self.connectPortsBase
            + "seccomp:\n  default: deny\n  allow:\n" + calls.map { "    - \($0)\n" }.joined())
        let check = try runner.run(["check", profile], within: 30)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let result = try runner.run(["--profile", profile, "/bin/true"], within: 30)
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test("-o naming a profile of the chain (the base itself, or a file it extends) is refused, even with --force",
          arguments: Runner.all)
    func outputIsItsOwnBase(runner: Runner) throws {
        let directory = try LearnTests.outputDirectory(runner)
        defer { directory.remove() }
        let inner = directory.path + "/inner.yaml", outer = directory.path + "/outer.yaml"
        try "extends: builtin:strict\n".write(toFile: inner, atomically: true, encoding: .utf8)
        try "extends: ./inner.yaml\n".write(toFile: outer, atomically: true, encoding: .utf8)
        for path in [inner, outer] { chmod(path, 0o644) }
        for (profile, output) in [(inner, inner), (outer, inner), (outer, directory.path + "/./outer.yaml")] {
            let result = try runner.run(["learn", "--profile", profile, "-o", output, "--force", "/bin/echo", "ran"],
                                        within: 30)
            #expect(result.status == 125, "\(output): \(result.stderr)")
            #expect(result.stderr.contains("is the profile"), "\(result.stderr)")
            #expect(!result.stdout.contains("ran"))
        }
        #expect(try String(contentsOfFile: inner, encoding: .utf8) == "extends: builtin:strict\n")
        #expect(try String(contentsOfFile: outer, encoding: .utf8) == "extends: ./inner.yaml\n")
    }
}
