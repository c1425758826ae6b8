import Foundation
import Testing

/// Issue 12, part 2: `--isolation landlock`, the degraded mode for hosts where user
/// namespaces are blocked. The block is simulated the way hosts do it: a seccomp filter
/// (loaded by a small python3 ctypes helper before it execs lpa-run) makes unshare and
/// clone with CLONE_NEWUSER fail with EPERM, and clone3 with ENOSYS (as Docker's
/// default profile does; glibc then falls back to clone).
enum BlockedUserNamespace {
    static let helper: String = {
        let path = Binaries.shared.directory + "/block-userns.py"
        let script = #"""
            import ctypes, os, platform, struct, sys
            libc = ctypes.CDLL(None, use_errno=True)
            arch, unshare, clone, clone3 = {
                "x86_64": (0xc000003e, 272, 56, 435),
                "aarch64": (0xc00000b7, 97, 220, 435),
            }[platform.machine()]
            ALLOW, ERRNO, EPERM, ENOSYS, NEWUSER = 0x7fff0000, 0x00050000, 1, 38, 0x10000000
            def stmt(k, code=0x06): return struct.pack("HBBI", code, 0, 0, k)
            def jump(code, k, jt, jf): return struct.pack("HBBI", code, jt, jf, k)
            program = [
                stmt(4, 0x20),                   # load arch
                jump(0x15, arch, 1, 0),
                stmt(ALLOW),
                stmt(0, 0x20),                   # load the syscall number
                jump(0x15, clone3, 0, 1),
                stmt(ERRNO | ENOSYS),
                jump(0x15, unshare, 2, 0),
                jump(0x15, clone, 1, 0),
                stmt(ALLOW),
                stmt(16, 0x20),                  # load args[0] (low 32 bits)
                jump(0x45, NEWUSER, 0, 1),       # jset CLONE_NEWUSER
                stmt(ERRNO | EPERM),
                stmt(ALLOW),
            ]
            code = ctypes.create_string_buffer(b"".join(program))
            class Fprog(ctypes.Structure):
                _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
            fprog = Fprog(len(program), ctypes.addressof(code))
            if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:
                sys.exit("block-userns: prctl: errno %d" % ctypes.get_errno())
            os.execv(sys.argv[1], sys.argv[1:])
            """#
        // Close-on-exec writing (see PolicySafetyTests.writeFile): it is executed.
        try? PolicySafetyTests.writeFile(path, script, owner: getuid(), mode: 0o755)
        return path
    }()

    /// The runner's command (setpriv for nobody), with the helper in front of lpa-run.
    static func command(_ runner: Runner, _ arguments: [String]) -> [String] {
        var argv = runner.command(arguments)
        let index = argv.firstIndex(of: Binaries.shared.lpaRun)!
        argv.insert(contentsOf: ["/usr/bin/python3", helper], at: index)
        return argv
    }

    /// A tmpfs directory (under /dev/shm) the runner's user may create its private directory in.
    static func runtimeDirectory(_ runner: Runner) throws -> String {
        let dir = "/dev/shm/lpa-degraded-\(runner.who.rawValue)-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chown(dir, runner.callerUid, runner.callerUid == 0 ? 0 : runner.callerUid)
        // As root the workload is nobody (or SUDO_UID), which must reach its directory in there.
        chmod(dir, runner.callerUid == 0 ? 0o711 : 0o700)
        return dir
    }

    static func run(_ runner: Runner, _ arguments: [String], runtime: String, extra: [String: String] = [:],
                    seconds: Double = 60) throws -> Runner.Result {
        let child = try Spawned(command(runner, arguments),
                                environment: runner.environment(extra: extra.merging(["XDG_RUNTIME_DIR": runtime]) { $1 }),
                                cwd: Binaries.shared.directory)
        let (status, stdout, stderr) = child.finish(seconds: seconds)
        return Runner.Result(status: status, stdout: stdout, stderr: stderr)
    }
}

@Suite("the degraded mode, --isolation landlock (issue 12, part 2)", .serialized)
struct DegradedModeTests {
    @Test("a blocked user namespace fails closed with 125, the fix, and a mention of --isolation landlock",
          arguments: Runner.all)
    func blockedUserNamespaceFailsClosed(runner: Runner) throws {
        let runtime = try BlockedUserNamespace.runtimeDirectory(runner)
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let result = try BlockedUserNamespace.run(runner, ["--profile", "strict", "/bin/echo", "ran"], runtime: runtime)
        #expect(result.status == 125, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("clone namespaces") && result.stderr.contains("EPERM"), "\(result.stderr)")
        #expect(result.stderr.contains("seccomp filter of the surrounding container"), "\(result.stderr)")
        #expect(result.stderr.contains("--isolation landlock"), "\(result.stderr)")
    }

    @Test("with --isolation landlock: home unreadable, writes only in the private directory, which is gone after exit",
          arguments: Runner.all)
    func filesystem(runner: Runner) throws {
        let runtime = try BlockedUserNamespace.runtimeDirectory(runner)
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let canary = runner.home + "/degraded-canary.txt"
        try "home secret\n".write(toFile: canary, atomically: false, encoding: .utf8)
        chmod(canary, 0o644)
        defer { unlink(canary) }
        let outside = Binaries.shared.scratch + "/degraded-outside-\(runner.who.rawValue)"
        try? FileManager.default.removeItem(atPath: outside)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        chmod(outside, 0o777)
        let script = """
            echo "home=$HOME"; id -u
            cat \(canary) 2>/dev/null || echo canary-denied
            echo x > \(outside)/written 2>/dev/null || echo outside-denied
            echo y > "$TMPDIR/inside" && cat "$TMPDIR/inside"
            """
        let result = try BlockedUserNamespace.run(runner, ["--isolation", "landlock", "--profile", "strict",
                                                           "/bin/sh", "-c", script], runtime: runtime)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let home = try #require(lines.first?.dropFirst(5)).description
        #expect(home.hasPrefix(runtime + "/lpa-run-private."), "\(result.stdout)")
        #expect(lines.dropFirst() == ["\(runner.sandboxUid)", "canary-denied", "outside-denied", "y"], "\(result.stdout)\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: outside + "/written"))
        #expect(!FileManager.default.fileExists(atPath: home), "the private directory outlived the run")
        #expect(result.stderr.contains("DEGRADED") && result.stderr.contains("no pid namespace"), "\(result.stderr)")
    }

    @Test("with --isolation landlock: only --connect ports connect, UDP fails, only published ports bind",
          arguments: Runner.all)
    func network(runner: Runner) throws {
        let runtime = try BlockedUserNamespace.runtimeDirectory(runner)
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let allowed = try LoopbackListener()
        let other = try LoopbackListener()
        let published = try LoopbackHTTP.candidatePort()
        let unpublished = try LoopbackHTTP.candidatePort()
        let script = """
            import socket, errno
            def attempt(what, call):
                try:
                    call(); print(what, "ok")
                except OSError as e:
                    print(what, errno.errorcode.get(e.errno, e.errno))
            attempt("connect-allowed", lambda: socket.create_connection(("127.0.0.1", \(allowed.port))))
            attempt("connect-other", lambda: socket.create_connection(("127.0.0.1", \(other.port))))
            attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            attempt("udp6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
            attempt("bind-published", lambda: socket.socket().bind(("127.0.0.1", \(published))))
            attempt("bind-other", lambda: socket.socket().bind(("127.0.0.1", \(unpublished))))
            """
        let result = try BlockedUserNamespace.run(runner, [
            "--isolation", "landlock", "--profile", "strict", "--connect", "127.0.0.1:\(allowed.port)",
            "-p", "127.0.0.1:\(published):\(published)", "/usr/bin/python3", "-c", script], runtime: runtime)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == """
            connect-allowed ok
            connect-other EACCES
            udp EPERM
            udp6 EPERM
            bind-published ok
            bind-other EACCES

            """, "\(result.stderr)")
    }

    @Test("with --isolation landlock the real llama-server serves the tiny model through -p", arguments: Runner.all)
    func llamaServer(runner: Runner) throws {
        let llama = try Llama.get()
        let runtime = try BlockedUserNamespace.runtimeDirectory(runner)
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let port = try LoopbackHTTP.candidatePort()
        let server = try BackgroundProcess(
            BlockedUserNamespace.command(runner, ["--isolation", "landlock", "--profile", "strict", "--model", llama.model,
                                                  "-p", "127.0.0.1:\(port):\(port)", llama.server, "-m", llama.model,
                                                  "--host", "127.0.0.1", "--port", "\(port)"]),
            name: "lpa-run --isolation landlock llama-server",
            environment: runner.environment(extra: ["XDG_RUNTIME_DIR": runtime]))
        defer { server.terminate() }
        try LoopbackHTTP.waitUntilReady(port: port, path: "/health", within: 180, server: "llama-server",
                                        stillRunning: { server.isRunning })
        let completion = try LoopbackHTTP.request(port: port, method: "POST", path: "/completion",
                                                  body: #"{"prompt":"hello","n_predict":4,"temperature":0}"#)
        #expect(completion.status == 200)
        #expect(completion.body.contains("\"tokens_predicted\":"), "\(completion.body)")
        kill(server.pid, SIGTERM)
        #expect(try server.waitForExit("after SIGTERM", within: 30) == 0, "\(server.stderr.suffix(800))")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: runtime)) ?? []
        #expect(left.isEmpty, "the private directory outlived the run: \(left)")
    }

    @Test("--dry-run says isolation landlock and lists the losses, in text and JSON; the normal plan says namespaces")
    func dryRun() throws {
        let runner = Runner.all[0]
        let text = try runner.run(["--isolation", "landlock", "--profile", "strict", "--dry-run", "/bin/true"],
                                  env: ["XDG_RUNTIME_DIR": "/dev/shm"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("isolation    landlock: DEGRADED"), "\(text.stdout)")
        #expect(text.stdout.contains("lost            no pid namespace"), "\(text.stdout)")
        #expect(text.stdout.contains("hidden paths under readable trees stay readable"), "\(text.stdout)")
        let json = try runner.run(["--isolation", "landlock", "--profile", "strict", "--dry-run", "--format", "json",
                                   "/bin/true"], env: ["XDG_RUNTIME_DIR": "/dev/shm"])
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(plan["isolation"] as? String == "landlock")
        let degraded = try #require(plan["degraded"] as? [String: Any])
        let losses = try #require(degraded["losses"] as? [String])
        #expect(losses.contains { $0.hasPrefix("no network namespace") })
        for opening in ["listen() on an unbound TCP socket", "the caller's own files", "abstract unix socket names",
                        "a SIGKILL of lpa-run"] {
            #expect(losses.contains { $0.hasPrefix(opening) }, "no loss starts with \(opening)")
        }
        // TCP Fast Open connects without Landlock's connect hook: refused by the mode's filter.
        let seccomp = try #require(degraded["seccomp"] as? [String: Any])
        let rules = try #require(seccomp["rules"] as? [[String: Any]])
        for call in ["sendto", "sendmsg", "sendmmsg"] {
            #expect(rules.contains { rule in
                rule["syscall"] as? String == call && ((rule["args"] as? [[String: Any]]) ?? []).contains {
                    $0["op"] as? String == "masked-eq" && $0["mask"] as? Int == 0x2000_0000 && $0["value"] as? Int == 0x2000_0000
                }
            }, "no MSG_FASTOPEN rule for \(call)")
        }
        #expect((plan["namespaces"] as? [String])?.isEmpty == true)
        #expect((plan["mounts"] as? [Any])?.isEmpty == true)
        let landlock = try #require(plan["landlock"] as? [String: Any])
        #expect(landlock["mode"] as? String == "required")
        let network = try #require(landlock["network"] as? [String: Any])
        #expect(network["bind"] as? [Int] == [] && network["connect"] as? [Int] == [])

        let normal = try runner.run(["--profile", "strict", "--dry-run", "--format", "json", "/bin/true"])
        let normalPlan = try #require(try JSONSerialization.jsonObject(with: Data(normal.stdout.utf8)) as? [String: Any])
        #expect(normalPlan["isolation"] as? String == "namespaces")
        #expect(normalPlan["degraded"] == nil)
        let normalText = try runner.run(["--profile", "strict", "--dry-run", "/bin/true"])
        #expect(normalText.stdout.contains("isolation    namespaces"))
    }

    @Test("--isolation landlock refuses what it cannot express: -p with different ports, run-as root")
    func refusals() throws {
        let runner = Runner.all[0]
        let ports = try runner.run(["--isolation", "landlock", "-p", "127.0.0.1:18080:8080", "--dry-run", "/bin/true"])
        #expect(ports.status != 0)
        #expect(ports.stderr.contains("both ports must be the same"), "\(ports.stderr)")
        let bad = try runner.run(["--isolation", "chroot", "--dry-run", "/bin/true"])
        #expect(bad.status != 0 && bad.stderr.contains("use namespaces or landlock"), "\(bad.stderr)")
    }

    @Test("probe --isolation landlock: every row matches the plan; what only namespaces block is allowed and named a loss",
          arguments: Runner.all)
    func probeRows(runner: Runner) throws {
        let runtime = try BlockedUserNamespace.runtimeDirectory(runner)
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let result = try BlockedUserNamespace.run(runner, ["probe", "--isolation", "landlock", "--format", "json"],
                                                  runtime: runtime, seconds: 120)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]],
                                "\(result.stdout)\n\(result.stderr)")
        let byName = Dictionary(rows.map { (($0["probe"] as? String) ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        let failed = rows.filter { $0["pass"] as? Bool != true }
        #expect(failed.isEmpty, "\(failed)")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(byName["pid-namespace"]?["intent"] as? String == "allowed")
        #expect((byName["pid-namespace"]?["detail"] as? String)?.contains("lost in --isolation landlock") == true)
        #expect((byName["network-interfaces"]?["detail"] as? String)?.contains("lost in --isolation landlock") == true)
        // The mode's own filter and Landlock still block these.
        #expect(byName["io_uring_setup"]?["intent"] as? String == "blocked")
        #expect(byName["network-egress"]?["intent"] as? String == "blocked")
        #expect(byName["home-canary"]?["intent"] as? String == "blocked")
        #expect(byName["abstract-unix-socket"]?["intent"] as? String == "blocked")
    }

    @Test("doctor under a blocked user namespace names the surrounding filter and --isolation landlock", arguments: Runner.all)
    func doctorNamesTheMode(runner: Runner) throws {
        let runtime = try BlockedUserNamespace.runtimeDirectory(runner)
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let result = try BlockedUserNamespace.run(runner, ["doctor", "--format", "json"], runtime: runtime)
        let creation = try #require(try LandlockTests.doctorChecks(result)["user namespace creation"])
        #expect(creation["ok"] as? Bool == false, "\(creation)")
        let fix = creation["fix"] as? String ?? ""
        #expect(fix.contains("seccomp filter of the surrounding container") && fix.contains("--isolation landlock"), "\(fix)")
    }

    @Test("without a pid namespace, what the workload left in its process group is killed at exit", arguments: Runner.all)
    func processGroupKilledAtExit(runner: Runner) throws {
        let runtime = try BlockedUserNamespace.runtimeDirectory(runner)
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let result = try BlockedUserNamespace.run(runner, ["--isolation", "landlock", "--profile", "strict",
                                                           "/bin/sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"], runtime: runtime)
        #expect(result.status == 0, "\(result.stderr)")
        let pid = try #require(pid_t(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(result.stdout)")
        var gone = false
        for _ in 0..<40 where !gone {
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?
                .split(separator: ")").last?.split(separator: " ").first
            gone = state == nil || state == "Z"
            if !gone { usleep(50_000) }
        }
        if !gone { kill(pid, SIGKILL) }
        #expect(gone, "the background sleep (pid \(pid)) outlived the run")
    }
    @Test("with --isolation landlock a SIGKILLed lpa-run takes the workload with it (parent-death signal)",
          arguments: Runner.all)
    func workloadDiesWithLauncher(runner: Runner) throws {
        let runtime = try BlockedUserNamespace.runtimeDirectory(runner)
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let child = try Spawned(BlockedUserNamespace.command(runner, ["--isolation", "landlock", "--profile", "strict",
                                                                      "/bin/sh", "-c", "echo started; exec sleep 60"]),
                                environment: runner.environment(extra: ["XDG_RUNTIME_DIR": runtime]),
                                cwd: Binaries.shared.directory)
        guard child.waitForLine("started", seconds: 30) else { return }
        let workload = ProcessTree.descendants(of: child.pid)
        #expect(!workload.isEmpty, "no workload under lpa-run \(child.pid)")
        kill(child.pid, SIGKILL)
        _ = child.finish(seconds: 10)
        var alive = workload
        for _ in 0..<50 where !alive.isEmpty {
            usleep(100_000)
            alive = alive.filter(ProcessTree.isAlive)
        }
        for pid in alive { kill(pid, SIGKILL) }
        #expect(alive.isEmpty, "the workload (\(alive)) outlived the SIGKILLed lpa-run")
    }

    @Test("with --isolation landlock TCP Fast Open (sendto/sendmsg with MSG_FASTOPEN) cannot reach a port outside --connect",
          arguments: Runner.all)
    func tcpFastOpenIsRefused(runner: Runner) throws {
        let runtime = try BlockedUserNamespace.runtimeDirectory(runner)
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let allowed = try LoopbackListener()
        let other = try LoopbackListener()
        let result = try BlockedUserNamespace.run(runner, [
            "--isolation", "landlock", "--profile", "strict", "--connect", "127.0.0.1:\(allowed.port)",
            "/usr/bin/python3", "-c", TCPFastOpen.script(port: other.port)], runtime: runtime)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "sendto EPERM\nsendmsg EPERM\n", "\(result.stderr)")
        #expect(!TCPFastOpen.hasPendingConnection(other.fd), "the listener on a port outside --connect saw a connection")
    }

    @Test("as root, a private directory swapped for a link by the workload's user never makes root chown the link's target",
          .timeLimit(.minutes(2)))
    func privateDirectoryRace() throws {
        guard Runner.isRoot else { return }
        let parent = "/dev/shm/lpa-race-\(getpid())"
        let target = "/dev/shm/lpa-race-target-\(getpid())"
        try? FileManager.default.removeItem(atPath: parent)
        try? FileManager.default.removeItem(atPath: target)
        mkdir(parent, 0o711)
        chown(parent, 65534, 65534)
        chmod(parent, 0o711)
        mkdir(target, 0o755)
        defer {
            try? FileManager.default.removeItem(atPath: parent)
            try? FileManager.default.removeItem(atPath: target)
        }
        // The attacker (uid 65534, the workload's user, who owns the parent): each new
        // lpa-run-private.* is renamed away and its name made a link to the target.
        let attacker = """
            import os, sys, time
            parent, target = sys.argv[1], sys.argv[2]
            end = time.time() + 25
            while time.time() < end and not os.path.exists(parent + "/stop"):
                for name in os.listdir(parent):
                    if name.startswith("lpa-run-private.") and not os.path.islink(parent + "/" + name):
                        try:
                            os.rename(parent + "/" + name, parent + "/moved-" + name)
                            os.symlink(target, parent + "/" + name)
                        except OSError:
                            pass
            """
        let racer = try Spawned(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 "/usr/bin/python3", "-c", attacker, parent, target],
                                environment: ProcessInfo.processInfo.environment, cwd: "/")
        defer { kill(racer.pid, SIGKILL); _ = racer.finish(seconds: 5) }
        let runner = Runner.all[0]
        let deadline = Date().addingTimeInterval(18)
        var runs = 0
        while Date() < deadline {
            var st = stat()
            guard stat(target, &st) == 0, st.st_uid == 0 else { break }
            _ = try BlockedUserNamespace.run(runner, ["--isolation", "landlock", "-q", "--", "/bin/true"], runtime: parent,
                                             extra: ["SUDO_UID": "65534", "SUDO_GID": "65534"], seconds: 20)
            runs += 1
        }
        _ = FileManager.default.createFile(atPath: parent + "/stop", contents: nil)
        var st = stat()
        #expect(stat(target, &st) == 0 && st.st_uid == 0 && st.st_gid == 0,
                "after \(runs) runs the target \(target) is owned by \(st.st_uid):\(st.st_gid)")
        let inside = (try? FileManager.default.contentsOfDirectory(atPath: target)) ?? []
        #expect(inside.isEmpty, "root created \(inside) in the link's target")
    }
}

/// TCP Fast Open connects inside sendto/sendmsg, where Landlock's connect hook is not
/// called: the workload tries both against a port it may not connect to.
enum TCPFastOpen {
    static func script(port: UInt16) -> String {
        """
        import socket, errno
        MSG_FASTOPEN = 0x20000000
        def attempt(what, call):
            s = socket.socket()
            try:
                call(s); print(what, "ok")
            except OSError as e:
                print(what, errno.errorcode.get(e.errno, e.errno))
        attempt("sendto", lambda s: s.sendto(b"", MSG_FASTOPEN, ("127.0.0.1", \(port))))
        attempt("sendmsg", lambda s: s.sendmsg([b"x"], [], MSG_FASTOPEN, ("127.0.0.1", \(port))))
        """
    }

    /// Whether the listener's accept queue holds a connection (non-blocking accept).
    static func hasPendingConnection(_ fd: Int32) -> Bool {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        usleep(200_000)
        let accepted = accept(fd, nil, nil)
        if accepted >= 0 { close(accepted) }
        return accepted >= 0
    }
}
