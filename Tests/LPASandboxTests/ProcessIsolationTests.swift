import CShims
import Foundation
import Testing

/// What surrounds the syscall wall on the process side (issue 11, items 3, 5, 7, 13,
/// 14): the caller's terminal, session and process group; mount targets resolved
/// through content an earlier run planted; the init's descriptors, memory and argv.
enum Isolation {
    /// Fields of /proc/PID/stat after the command name (field 3 is index 0).
    static func statFields(_ pid: pid_t) -> [String] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return [] }
        return text[text.index(after: close)...].split(separator: " ").map(String.init)
    }

    /// Session id (field 6) and process group (field 5).
    static func session(_ pid: pid_t) -> String? { statFields(pid).dropFirst(3).first }
    static func processGroup(_ pid: pid_t) -> String? { statFields(pid).dropFirst(2).first }

    static func children(_ pid: pid_t) -> [pid_t] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// The init: lpa-run's child (setpriv execs lpa-run, so the pid is lpa-run's).
    static func initPid(of lpaRun: pid_t, seconds: Double = 30) -> pid_t? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let first = children(lpaRun).first { return first }
            usleep(1000)
        }
        Issue.record("lpa-run \(lpaRun) started no init within \(seconds) s")
        return nil
    }

    /// fd -> what it refers to, from /proc/PID/fd.
    static func descriptors(_ pid: pid_t) -> [Int: String] {
        var result: [Int: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [] {
            if let fd = Int(name), let target = FilePathText.readLink("/proc/\(pid)/fd/\(name)") { result[fd] = target }
        }
        return result
    }

    /// Whether `pid` has a handler for `signal` (SigCgt in /proc/PID/status).
    static func catches(_ pid: pid_t, _ signal: Int32) -> Bool {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
              let mask = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) else { return false }
        return mask & (1 << UInt64(signal - 1)) != 0
    }

    /// A directory owned by the runner's user, for fixtures the sandbox writes.
    static func fixture(_ name: String, _ runner: Runner) -> String {
        let dir = Binaries.shared.directory + "/\(name)-\(runner.who.rawValue)"
        try? FileManager.default.removeItem(atPath: dir)
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o777)
        return dir
    }

    static func mkdir777(_ path: String) {
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o777)
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// `sh -c` quoting.
    static func quoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// The prefix that runs a program as the runner's user (nothing for the caller).
    static func asUser(_ runner: Runner) -> [String] {
        runner.who == .nobody ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
    }

    /// Runs lpa-run ARGUMENTS on a new pseudo-terminal (Python's pty module, as a user's
    /// terminal would), typing each `(prompt, text)` once its prompt appeared (after the
    /// previous typing). Returns the
    /// status, what the terminal showed, and whether its settings were restored at exit.
    static func onTerminal(_ runner: Runner, _ arguments: [String], typing: [(String, String)] = [],
                           seconds: Double = 60) throws -> (status: Int32, screen: String, restored: Bool) {
        let helper = Binaries.shared.directory + "/pty-run.py"
        try ptyHelper.write(toFile: helper, atomically: true, encoding: .utf8)
        let script = try JSONSerialization.data(withJSONObject: typing.map { [$0.0, $0.1] })
        let child = try Spawned(["/usr/bin/python3", helper, String(decoding: script, as: UTF8.self), String(seconds)]
                                    + runner.command(arguments),
                                environment: runner.environment(), cwd: Binaries.shared.directory)
        let (status, stdout, stderr) = child.finish(seconds: seconds + 30)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any],
                                  "pty helper: \(status) \(stdout) \(stderr)")
        return (Int32(report["status"] as? Int ?? -1), report["screen"] as? String ?? "", report["restored"] as? Bool ?? false)
    }

    static let ptyHelper = #"""
        import json, os, pty, select, signal, sys, termios, time
        typing, seconds, argv = json.loads(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(argv[0], argv)
        before = termios.tcgetattr(fd)
        screen, mark, deadline, status = b"", 0, time.time() + seconds, None
        while time.time() < deadline:
            if typing and typing[0][0].encode() in screen[mark:]:
                time.sleep(0.3)  # as a person would: the program is past its output
                os.write(fd, typing.pop(0)[1].encode())
                mark = len(screen)
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                screen += data
        else:
            os.kill(pid, signal.SIGKILL)
        _, raw = os.waitpid(pid, 0)
        after = termios.tcgetattr(fd)
        print(json.dumps({"status": os.waitstatus_to_exitcode(raw), "screen": screen.decode(errors="replace"),
                          "restored": before == after}))
        """#
}

/// Item 3: the workload has its own session and process group; the caller's terminal
/// is reached only through a relayed pseudo-terminal.
@Suite("terminal, session and process group", .serialized)
struct TerminalIsolationTests {
    @Test("started from a terminal session with stdin on /dev/null, the workload cannot open /dev/tty",
          arguments: Runner.all)
    func noControllingTerminal(runner: Runner) throws {
        // `script` gives lpa-run a session whose controlling terminal is a pty, as a
        // user's shell would; 0-2 are not terminals (`lpa-run ... </dev/null >log &`).
        let out = Binaries.shared.directory + "/tty-\(runner.who.rawValue).out"
        unlink(out)
        let inside = "( exec 3<>/dev/tty ) 2>/dev/null && echo TTY-OPENED || echo TTY-REFUSED"
        let line = runner.command(["--profile", "strict", "/bin/sh", "-c", inside]).map(Isolation.quoted)
            .joined(separator: " ") + " </dev/null >\(out) 2>&1"
        let child = try Spawned(["/usr/bin/script", "-qec", line, "/dev/null"], environment: runner.environment(),
                                cwd: Binaries.shared.directory)
        let (status, stdout, stderr) = child.finish(seconds: 60)
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        #expect(status == 0, "\(stdout) \(stderr) \(text)")
        #expect(text.contains("TTY-REFUSED") && !text.contains("TTY-OPENED"), "\(text)")
    }

    @Test("with stdin on a terminal and stdout piped, the workload reads /dev/null, not the terminal",
          arguments: Runner.all)
    func pipedOutputGetsNoTerminalInput(runner: Runner) throws {
        let out = Binaries.shared.directory + "/stdin-\(runner.who.rawValue).out"
        unlink(out)
        let inside = "readlink /proc/self/fd/0; [ -t 0 ] && echo STDIN-TTY || echo STDIN-NOT-TTY"
        let line = runner.command(["--profile", "strict", "/bin/sh", "-c", inside]).map(Isolation.quoted)
            .joined(separator: " ") + " | cat >\(out) 2>&1"
        let child = try Spawned(["/usr/bin/script", "-qec", line, "/dev/null"], environment: runner.environment(),
                                cwd: Binaries.shared.directory)
        let (status, stdout, stderr) = child.finish(seconds: 60)
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        #expect(status == 0, "\(stdout) \(stderr) \(text)")
        #expect(text == "/dev/null\nSTDIN-NOT-TTY\n", "\(text)")
    }

    @Test("the workload has its own session and process group", arguments: Runner.all)
    func ownSession(runner: Runner) throws {
        let running = try RunningSandbox(runner: runner, arguments: ["--profile", "strict", "/bin/sleep", "600"])
        let workload = try #require(ProcessLifecycleTests.workload(of: running.pid, named: "sleep"))
        let initPid = try #require(Isolation.initPid(of: running.pid))
        let launcher = (Isolation.session(running.pid), Isolation.processGroup(running.pid))
        #expect(launcher.0 != nil && Isolation.session(workload) != nil)
        #expect(Isolation.session(workload) != launcher.0, "workload shares lpa-run's session")
        #expect(Isolation.processGroup(workload) != launcher.1, "workload shares lpa-run's process group")
        #expect(Isolation.session(initPid) != launcher.0, "the init shares lpa-run's session")
        kill(running.pid, SIGTERM)
        _ = running.finish()
    }

    @Test("kill(0, SIGUSR1) inside does not reach a host process in lpa-run's process group", arguments: Runner.all)
    func processGroupSignalStaysInside(runner: Runner) throws {
        // A new session for lpa-run and a sentinel of the same user in its process group.
        let inside = "trap '' USR1; kill -USR1 0; echo SENT"
        let lpaRun = [Binaries.shared.lpaRun, "--profile", "strict", "/bin/sh", "-c", inside].map(Isolation.quoted)
        let shell = "sleep 600 >/dev/null 2>&1 & echo sentinel $!; exec " + lpaRun.joined(separator: " ")
        let child = try Spawned(["/usr/bin/setsid"] + Isolation.asUser(runner) + ["/bin/sh", "-c", shell],
                                environment: runner.environment(), cwd: Binaries.shared.directory)
        let (status, stdout, stderr) = child.finish(seconds: 60)
        let sentinel = try #require(stdout.split(separator: "\n").first { $0.hasPrefix("sentinel ") }
            .flatMap { pid_t($0.dropFirst(9)) }, "\(stdout) \(stderr)")
        usleep(100_000)
        let alive = ProcessTree.isAlive(sentinel)
        kill(sentinel, SIGKILL)
        #expect(status == 0 && stdout.contains("SENT"), "\(stdout) \(stderr)")
        #expect(alive, "the sandbox's kill(0) killed the host sentinel \(sentinel)")
    }

    @Test("the workload cannot signal the init (Landlock signal scope, ABI 6+)", arguments: Runner.all)
    func landlockSignalScope(runner: Runner) throws {
        try #require(lpa_landlock_abi_version() >= 6, "Landlock ABI 6 needed (this kernel: \(lpa_landlock_abi_version()))")
        let result = try runner.run(["--profile", "strict", "/bin/sh", "-c", "kill -0 1 2>/dev/null && echo REACHED || echo REFUSED"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "REFUSED\n", "\(result.stdout)")
    }

    @Test("with network: host, host abstract unix sockets are out of reach (Landlock scope, ABI 6+)",
          arguments: Runner.all)
    func landlockAbstractSocketScope(runner: Runner) throws {
        try #require(lpa_landlock_abi_version() >= 6)
        let name = "lpa-test-abstract-\(getpid())-\(runner.who.rawValue)"
        let listener = try AbstractListener(name: name)
        #expect(listener.canConnectFromHost())
        let profile = Binaries.shared.profile(named: "host-network", """
            description: strict with the host's network
            extends: strict
            network: {mode: host}
            """)
        let result = try runner.probe(["connect-abstract", name], profile: profile)
        #expect(result.fields["connect-abstract"] == "EPERM", "\(result.stdout) \(result.stderr)")
    }

    @Test("a shell on a terminal: tty names the sandbox's own pty, and the terminal is restored",
          arguments: Runner.all)
    func interactiveShell(runner: Runner) throws {
        let (status, screen, restored) = try Isolation.onTerminal(
            runner, ["--profile", "strict", "/bin/sh", "-c", "tty; echo ok"])
        #expect(status == 0, "\(screen)")
        #expect(screen.contains("/dev/pts/0"), "\(screen)")
        #expect(screen.contains("ok"), "\(screen)")
        #expect(restored, "the terminal's settings were not restored")
    }

    @Test("bash on a terminal keeps job control: ^C stops the foreground command, not the shell",
          arguments: Runner.all)
    func bashJobControl(runner: Runner) throws {
        let (status, screen, restored) = try Isolation.onTerminal(
            runner, ["--profile", "strict", "/bin/bash", "--norc", "-i"],
            typing: [("bash-", "echo ST''ARTED; sleep 30; echo AF''TER\r"), ("STARTED", "\u{3}"),
                     ("bash-", "echo DONE; exit\r")], seconds: 20)
        #expect(status == 0, "\(screen)")
        #expect(screen.contains("DONE") && !screen.contains("AFTER"), "\(screen)")
        #expect(restored)
    }

    @Test("a Python REPL on a terminal works through the relay (agent profile)", arguments: Runner.all)
    func pythonRepl(runner: Runner) throws {
        let (status, screen, restored) = try Isolation.onTerminal(
            runner, ["--profile", "agent", "/usr/bin/python3", "-q"],
            typing: [(">>> ", "print(6*7)\r"), (">>> ", "exit()\r")])
        #expect(status == 0, "\(screen)")
        #expect(screen.contains("42"), "\(screen)")
        #expect(restored)
    }
}

/// Item 5: mount targets are resolved beneath the new root without following links,
/// never opened for writing, and a stopped setup can be interrupted.
@Suite("mount targets", .serialized)
struct MountTargetTests {
    @Test("a relative link planted in a read-write bind cannot move a mount target: 125, nothing created",
          arguments: Runner.all)
    func plantedLinkRefused(runner: Runner) throws {
        let root = Isolation.fixture("planted-link", runner)
        Isolation.mkdir777(root + "/project")
        Isolation.mkdir777(root + "/outside")
        // What an earlier run could leave in its read-write directory.
        symlink("../outside", root + "/project/sub")
        let profile = Binaries.shared.profile(named: "planted-link-\(runner.who.rawValue)", """
            description: a tmpfs below a read-write directory
            extends: strict
            filesystem:
              read-write: [\(root)/project, \(root)/outside]
              tmpfs: [\(root)/project/sub/deeper]
            """)
        let result = try runner.run(["--profile", profile, "/bin/echo", "RAN"])
        #expect(result.status == 125, "\(result.stdout) \(result.stderr)")
        #expect(!result.stdout.contains("RAN"))
        #expect(result.stderr.contains("ELOOP") && result.stderr.contains("planted-link-\(runner.who.rawValue).yaml:5"),
                "\(result.stderr)")
        #expect(!Isolation.exists(root + "/outside/deeper"), "the init created a directory through the link")
    }

    @Test("a FIFO at a file mount target does not hang the launch", arguments: Runner.all)
    func fifoTargetDoesNotHang(runner: Runner) throws {
        let root = Isolation.fixture("fifo-target", runner)
        Isolation.mkdir777(root + "/project")
        mkfifo(root + "/project/secret", 0o666)
        let profile = Binaries.shared.profile(named: "fifo-target-\(runner.who.rawValue)", """
            description: hides a path that an earlier run replaced with a FIFO
            extends: strict
            filesystem:
              read-write: [\(root)/project]
              hide: [\(root)/project/secret]
            """)
        let result = try runner.run(["--profile", profile, "/bin/echo", "RAN"], seconds: 20)
        #expect(result.status == 0 || result.status == 125, "\(result.stdout) \(result.stderr)")
    }

    @Test("a hide reached through a link planted in a read-write bind is refused", arguments: Runner.all)
    func hideThroughLinkRefused(runner: Runner) throws {
        let root = Isolation.fixture("hide-link", runner)
        Isolation.mkdir777(root + "/project/moved")
        try "secret\n".write(toFile: root + "/project/moved/key", atomically: true, encoding: .utf8)
        // The hidden file's directory was renamed and a link left at the old name.
        symlink("moved", root + "/project/keys")
        let profile = Binaries.shared.profile(named: "hide-link-\(runner.who.rawValue)", """
            description: hides a file whose directory is now a link
            extends: strict
            filesystem:
              read-write: [\(root)/project]
              hide: [\(root)/project/keys/key]
            """)
        let result = try runner.run(["--profile", profile, "/bin/echo", "RAN"])
        #expect(result.status == 125, "\(result.stdout) \(result.stderr)")
        #expect(!result.stdout.contains("RAN"))
        #expect(result.stderr.contains("link"), "\(result.stderr)")

        // The hidden name itself replaced by a link.
        symlink("moved/key", root + "/project/key")
        let direct = Binaries.shared.profile(named: "hide-link-direct-\(runner.who.rawValue)", """
            description: hides a name that is now a link
            extends: strict
            filesystem:
              read-write: [\(root)/project]
              hide: [\(root)/project/key]
            """)
        let refused = try runner.run(["--profile", direct, "/bin/echo", "RAN"])
        #expect(refused.status == 125 && !refused.stdout.contains("RAN"), "\(refused.stdout) \(refused.stderr)")
        #expect(refused.stderr.contains("the path to hide is a symbolic link"), "\(refused.stderr)")
    }

    /// A sandbox whose init is stopped (SIGSTOP) in the middle of its setup, as a hung
    /// mount point would leave it, after lpa-run took its signals over. Many mounts make
    /// the setup long enough to catch.
    static func stoppedDuringSetup(_ runner: Runner) throws -> (RunningSandbox, pid_t)? {
        let mounts = (0..<200).map { "/tmp/slow-\($0)" }.joined(separator: ", ")
        let profile = Binaries.shared.profile(named: "slow-setup", """
            description: a setup with many mounts
            extends: strict
            filesystem:
              tmpfs: [\(mounts)]
            """)
        for _ in 0..<40 {
            let running = try RunningSandbox(runner: runner, arguments: ["--profile", profile, "/bin/echo", "RAN"])
            guard let initPid = Isolation.initPid(of: running.pid) else { return nil }
            // Step the init until it is building the new root (past the start byte).
            var inSetup = false
            for _ in 0..<2000 {
                kill(initPid, SIGSTOP)
                usleep(200)
                let mounts = (try? String(contentsOfFile: "/proc/\(initPid)/mountinfo", encoding: .utf8)) ?? ""
                if !Isolation.children(initPid).isEmpty || !ProcessTree.isAlive(initPid) { break }
                if mounts.contains(" /newroot/") { inSetup = true; break }
                kill(initPid, SIGCONT)
                usleep(100)
            }
            // lpa-run must have taken SIGTERM over (before that it simply dies, nothing started).
            let deadline = Date().addingTimeInterval(5)
            while inSetup && !Isolation.catches(running.pid, SIGTERM) && Date() < deadline { usleep(1000) }
            usleep(100_000)  // and finished its start step
            if inSetup && Isolation.children(initPid).isEmpty && ProcessTree.isAlive(initPid) {
                return (running, initPid)
            }
            kill(initPid, SIGCONT)  // too late: the workload was already forked
            _ = running.finish()
        }
        Issue.record("never caught the init during setup")
        return nil
    }

    @Test("SIGTERM while the sandbox is being set up stops the launch with 128+15, nothing ran", arguments: Runner.all)
    func sigtermDuringSetup(runner: Runner) throws {
        guard let (running, _) = try Self.stoppedDuringSetup(runner) else { return }
        kill(running.pid, SIGTERM)
        let (status, output) = running.finish(seconds: 20)
        // Stopped as asked, as a signal ends a program; the message says nothing ran.
        #expect(status == 128 + SIGTERM, "\(output)")
        #expect(output.contains("SIGTERM") && !output.contains("RAN"), "\(output)")
    }

    @Test("during setup the init holds no write end of a pipe lpa-run has let go: a dead launcher reads as EOF",
          arguments: Runner.all)
    func initHoldsNoStartPipeWriter(runner: Runner) throws {
        guard let (running, initPid) = try Self.stoppedDuringSetup(runner) else { return }
        defer {
            kill(running.pid, SIGKILL)
            _ = running.finish()
        }
        let launcher = Set(Isolation.descriptors(running.pid).values)
        for (fd, target) in Isolation.descriptors(initPid) where fd > 2 && target.hasPrefix("pipe:") {
            let flags = (try? String(contentsOfFile: "/proc/\(initPid)/fdinfo/\(fd)", encoding: .utf8))?
                .split(separator: "\n").first { $0.hasPrefix("flags:") }
                .flatMap { Int($0.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) } ?? 0
            guard flags & Int(O_ACCMODE) == Int(O_WRONLY) else { continue }
            #expect(launcher.contains(target), "the init holds the only write end of \(target) (fd \(fd))")
        }
    }
}

/// `lpa-run probe` checks each class above on the profile it is given.
@Suite("probe rows for the process side", .serialized)
struct ProcessProbeRowTests {
    @Test("probe --profile strict has passing rows for the terminal, process group and linked mount targets",
          arguments: Runner.all)
    func probeRows(runner: Runner) throws {
        let result = try runner.run(["probe", "--profile", "strict", "--format", "json"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let rows = try ProbeDoctorTests.rows(result)
        for name in ["terminal-foreground", "session", "process-group-signals", "symlinked-mount-target",
                     "ioctl-tiocsetd", "ioctl-tioccons"] {
            let row = try #require(ProbeDoctorTests.row(rows, name), "row \(name) missing")
            #expect(row["intent"] as? String == "blocked", "\(name): \(row)")
            #expect(row["pass"] as? Bool == true, "\(name): \(row)")
        }
        #expect(ProbeDoctorTests.row(rows, "terminal-foreground")?["result"] as? String == "open /dev/tty: ENXIO")
        // Job control inside needs them; they act only on the sandbox's own terminal.
        for name in ["ioctl-tiocspgrp", "ioctl-tiocsctty"] {
            let row = try #require(ProbeDoctorTests.row(rows, name), "row \(name) missing")
            #expect(row["intent"] as? String == "allowed" && row["pass"] as? Bool == true, "\(name): \(row)")
        }
    }
}

/// Items 7, 13 and 14: the init holds nothing of the host's, cannot be inspected or
/// hijacked, shows no secrets in its argv, and the plan cannot weaken it.
@Suite("the init", .serialized)
struct InitIsolationTests {
    @Test("the init is not dumpable: its /proc entries are root's, its descriptors cannot be opened",
          arguments: Runner.all)
    func initNotDumpable(runner: Runner) throws {
        let running = try RunningSandbox(runner: runner, arguments: ["--profile", "strict", "/bin/sleep", "600"])
        _ = try #require(ProcessLifecycleTests.workload(of: running.pid, named: "sleep"))
        let initPid = try #require(Isolation.initPid(of: running.pid))
        var st = stat()
        // A non-dumpable process's /proc entries belong to root (the caller's otherwise).
        #expect(stat("/proc/\(initPid)/fd", &st) == 0 && st.st_uid == 0, "owner \(st.st_uid)")
        kill(running.pid, SIGTERM)
        _ = running.finish()

        for path in ["/proc/1/fd/0", "/proc/1/environ", "/proc/1/mem"] {
            let result = try runner.probe(["read", path])
            #expect(result.fields["read"] != "ok" && result.fields["read"] != nil, "\(path): \(result.stdout)")
        }
        // Owned by root, mode 0500: the listing itself is refused to any other user.
        if runner.who == .nobody {
            let listing = try runner.probe(["ls", "/proc/1/fd"])
            #expect(listing.stdout.hasPrefix("ls E"), "the workload listed /proc/1/fd: \(listing.stdout)")
        }
    }

    @Test("the init holds no host descriptor: no pinned file, no published listener", arguments: Runner.all)
    func initHoldsNoHostDescriptors(runner: Runner) throws {
        let dir = Isolation.fixture("init-fds", runner)
        let pinned = dir + "/pinned.bin"
        try "pinned\n".write(toFile: pinned, atomically: true, encoding: .utf8)
        chmod(pinned, 0o644)
        let sum = try #require(try runner.run(["hash", pinned]).stdout.split(separator: "\n")
            .first { $0.contains("sha256: ") }.flatMap { $0.components(separatedBy: "sha256: ").last })
            .trimmingCharacters(in: CharacterSet(charactersIn: "} \n"))
        let profile = Binaries.shared.profile(named: "init-fds-\(runner.who.rawValue)", """
            description: a pinned file and a published port
            extends: strict
            pins:
              files:
                - {path: \(pinned), sha256: \(sum)}
            """)
        let port = try LoopbackListener().port  // free now; closed again at once
        let running = try RunningSandbox(runner: runner, arguments: [
            "--profile", profile, "-p", "127.0.0.1:\(port):8080", "/bin/sleep", "600"])
        _ = try #require(ProcessLifecycleTests.workload(of: running.pid, named: "sleep"))
        let initPid = try #require(Isolation.initPid(of: running.pid))
        let launcher = Set(Isolation.descriptors(running.pid).filter { $0.key > 2 }.values)
        let held = Isolation.descriptors(initPid).filter { $0.key > 2 }
        for (fd, target) in held {
            #expect(!target.hasPrefix("/"), "the init holds fd \(fd) -> \(target)")
            #expect(!(target.hasPrefix("socket:") && launcher.contains(target)),
                    "the init holds lpa-run's socket \(target) as fd \(fd)")
        }
        kill(running.pid, SIGTERM)
        _ = running.finish()
    }

    @Test("the init runs under its own seccomp filter with no_new_privs", arguments: Runner.all)
    func initHasAFilter(runner: Runner) throws {
        let running = try RunningSandbox(runner: runner, arguments: ["--profile", "strict", "/bin/sleep", "600"])
        _ = try #require(ProcessLifecycleTests.workload(of: running.pid, named: "sleep"))
        let initPid = try #require(Isolation.initPid(of: running.pid))
        let status = (try? String(contentsOfFile: "/proc/\(initPid)/status", encoding: .utf8)) ?? ""
        let lines = status.split(separator: "\n").map { $0.replacingOccurrences(of: "\t", with: " ") }
        #expect(lines.contains("Seccomp: 2"), "\(lines.filter { $0.hasPrefix("Seccomp") })")
        #expect(lines.contains("NoNewPrivs: 1"))
        kill(running.pid, SIGTERM)
        let (code, output) = running.finish()
        #expect(code == 143, "\(output)")
    }

    @Test("keeping sys_ptrace, sys_admin, sys_module, sys_rawio or dac_read_search is refused",
          arguments: Runner.all)
    func dangerousCapabilitiesRefused(runner: Runner) throws {
        for capability in ["sys_ptrace", "sys_admin", "sys_module", "sys_rawio", "dac_read_search"] {
            let profile = Binaries.shared.profile(named: "keeps-\(capability)", """
                description: keeps a capability that reaches across the sandbox
                extends: strict
                capabilities: [\(capability)]
                """)
            let result = try runner.run(["--profile", profile, "/bin/echo", "RAN"])
            #expect(result.status == 125, "\(capability): \(result.stdout) \(result.stderr)")
            #expect(!result.stdout.contains("RAN"))
            #expect(result.stderr.contains("keeps-\(capability).yaml:3:"), "\(result.stderr)")
            #expect(result.stderr.contains("CAP_\(capability.uppercased())"), "\(result.stderr)")
        }
    }

    @Test("/proc/1/cmdline does not show lpa-run's argv (--env NAME=VALUE)", arguments: Runner.all)
    func cmdlineHidesArguments(runner: Runner) throws {
        let secret = "s3cret-value-\(getpid())"
        let result = try runner.run(["--env", "LPA_TEST_TOKEN=\(secret)", "--profile", "strict",
                                     "/bin/cat", "/proc/1/cmdline"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains(secret), "\(result.stdout)")
        #expect(!result.stdout.contains("--profile"), "\(result.stdout)")
    }

    @Test("a profile without the pid namespace is refused at its position, naming why", arguments: Runner.all)
    func pidNamespaceRequired(runner: Runner) throws {
        let profile = Binaries.shared.profile(named: "no-pid-namespace", """
            description: drops the pid namespace
            extends: strict
            namespaces: {replace: [user, mount, net, ipc, uts, cgroup]}
            """)
        let result = try runner.run(["--profile", profile, "/bin/echo", "RAN"])
        #expect(result.status == 125)
        #expect(!result.stdout.contains("RAN"))
        #expect(result.stderr.contains("no-pid-namespace.yaml:3:13: error: namespace 'pid' cannot be removed"),
                "\(result.stderr)")
        #expect(result.stderr.contains("/proc"), "\(result.stderr)")
    }
}

enum FilePathText {
    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
