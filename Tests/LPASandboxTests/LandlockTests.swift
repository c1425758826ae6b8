import CShims
import Foundation
import Testing

/// Issue 12, part 1: Landlock is a second wall on top of the mount namespace. The
/// workload restricts itself after the mounts and before seccomp; a path the Landlock
/// rules do not list stays unreadable even when a mount makes it visible.
enum LandlockFixtures {
    /// A directory with one secret file, readable by every user on the host, outside
    /// every other mount of the test profile (/tmp is not a tmpfs there: a rule beneath
    /// /tmp would cover it).
    static func secretDirectory(_ runner: Runner, _ name: String) throws -> String {
        let dir = Binaries.shared.directory + "/landlock-\(name)-\(runner.who.rawValue)"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o777)
        try "visible through the mount\n".write(toFile: dir + "/secret.txt", atomically: false, encoding: .utf8)
        chmod(dir + "/secret.txt", 0o644)
        return dir
    }

    /// strict, without the /tmp tmpfs, binding `dir` (read-only or read-write); with
    /// `exclude`, the test aid `landlock-exclude` leaves its rule out.
    static func profile(_ name: String, dir: String, readWrite: Bool = false, exclude: Bool,
                        extra: String = "") -> String {
        Binaries.shared.profile(named: name, """
            extends: strict
            filesystem:
              tmpfs: {replace: [/var/tmp, /run]}
              \(readWrite ? "read-write" : "read-only"): [\(dir)]
            \(exclude ? "landlock-exclude: [\(dir)]" : "")
            \(extra)
            """)
    }

    static var hostABI: Int {
        max(0, Int(lpa_landlock_abi_version()))
    }
}

@Suite("Landlock, the second wall (issue 12, part 1)", .serialized)
struct LandlockTests {
    @Test("a bound directory the Landlock rules leave out stays unreadable; with its rule it is readable",
          arguments: Runner.all)
    func secondWallHoldsOnItsOwn(runner: Runner) throws {
        try #require(LandlockFixtures.hostABI >= 1, "this kernel has no Landlock")
        let dir = try LandlockFixtures.secretDirectory(runner, "wall")
        let walled = LandlockFixtures.profile("landlock-walled-\(runner.who.rawValue)", dir: dir, exclude: true)
        let open = LandlockFixtures.profile("landlock-open-\(runner.who.rawValue)", dir: dir, exclude: false)
        let script = "cat \(dir)/secret.txt; ls \(dir) >/dev/null && echo listed; test -e \(dir)/secret.txt && echo exists"

        let control = try runner.run(["--profile", open, "/bin/sh", "-c", script])
        #expect(control.status == 0, "\(control.stderr)")
        #expect(control.stdout == "visible through the mount\nlisted\nexists\n", "\(control.stderr)")

        let denied = try runner.run(["--profile", walled, "/bin/sh", "-c", script])
        // The mount makes it visible (it exists; directories are listable everywhere:
        // the root's read-dir rule), Landlock refuses reading the file.
        #expect(denied.stdout == "listed\nexists\n", "\(denied.stderr)")
        #expect(denied.stderr.contains("Permission denied"), "\(denied.stderr)")
        #expect(!denied.stdout.contains("visible through the mount"))
    }

    @Test("a read-write bind is writable under Landlock, the same bind read-only is not", arguments: Runner.all)
    func readWriteBindsWriteReadOnlyBindsDoNot(runner: Runner) throws {
        let dir = try LandlockFixtures.secretDirectory(runner, "rw")
        let rw = LandlockFixtures.profile("landlock-rw-\(runner.who.rawValue)", dir: dir, readWrite: true, exclude: false)
        let ro = LandlockFixtures.profile("landlock-ro-\(runner.who.rawValue)", dir: dir, exclude: false)
        let script = "echo written > \(dir)/out.txt && mkdir \(dir)/sub && mv \(dir)/out.txt \(dir)/sub/ && echo ok"
        let written = try runner.run(["--profile", rw, "/bin/sh", "-c", script])
        #expect(written.status == 0 && written.stdout == "ok\n", "\(written.stderr)")
        #expect((try? String(contentsOfFile: dir + "/sub/out.txt", encoding: .utf8)) == "written\n")
        let refused = try runner.run(["--profile", ro, "/bin/sh", "-c", "echo x > \(dir)/other.txt"])
        #expect(refused.status != 0)
        #expect(!FileManager.default.fileExists(atPath: dir + "/other.txt"))
    }

    @Test("strict still runs python and sh: tmpfs writes work, read-only binds refuse writes", arguments: Runner.all)
    func strictStillWorks(runner: Runner) throws {
        let python = try runner.run(["--profile", "strict", "/usr/bin/python3", "-c", """
            import os, subprocess
            open('/tmp/x', 'w').write('tmp ok')
            os.makedirs('/tmp/a/b'); os.rename('/tmp/x', '/tmp/a/b/x')
            print(open('/tmp/a/b/x').read())
            print(subprocess.run(['/bin/sh', '-c', 'echo sh ok'], capture_output=True, text=True).stdout.strip())
            for path in ['/usr/lpa-x', '/etc/lpa-x']:
                try:
                    open(path, 'w'); print('wrote', path)
                except OSError as e:
                    print('refused', path, e.errno)
            print(sorted(os.listdir('/'))[:3])
            """])
        #expect(python.status == 0, "\(python.stderr)")
        #expect(python.stdout.contains("tmp ok\nsh ok\n"), "\(python.stdout) \(python.stderr)")
        #expect(python.stdout.contains("refused /usr/lpa-x") && python.stdout.contains("refused /etc/lpa-x"))
        #expect(!python.stdout.contains("wrote"))
        let home = try runner.run(["--profile", "strict", "/bin/sh", "-c", "echo hi > \"$HOME/f\" && cat \"$HOME/f\" && cat /dev/null && head -c 4 /dev/urandom | wc -c"])
        #expect(home.status == 0 && home.stdout == "hi\n4\n", "\(home.stderr)")
    }

    @Test("/dev/stdin and /dev/stdout still reopen when they are host files", arguments: Runner.all)
    func stdioReopens(runner: Runner) throws {
        let dir = try LandlockFixtures.secretDirectory(runner, "stdio")
        let input = dir + "/in.txt", output = dir + "/out.txt"
        try "from stdin\n".write(toFile: input, atomically: false, encoding: .utf8)
        chmod(input, 0o644)
        // The sandbox user (never host root) must pass the file's own permission check.
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        chmod(output, 0o666)
        let quoted = runner.command(["--profile", "strict", "/bin/sh", "-c",
                                     "cat /dev/stdin; echo via-dev-stdout >> /dev/stdout; echo direct"])
            .map { "'" + $0 + "'" }.joined(separator: " ")
        let shell = try Spawned(["/bin/sh", "-c", quoted + " < \(input) >> \(output)"],
                                environment: runner.environment(), cwd: Binaries.shared.directory)
        let (status, _, stderr) = shell.finish(seconds: 60)
        #expect(status == 0, "\(stderr)")
        #expect((try? String(contentsOfFile: output, encoding: .utf8)) == "from stdin\nvia-dev-stdout\ndirect\n", "\(stderr)")
    }

    @Test("landlock: required runs here; off runs without the ruleset", arguments: Runner.all)
    func requiredAndOff(runner: Runner) throws {
        try #require(LandlockFixtures.hostABI >= 1, "this kernel has no Landlock")
        let dir = try LandlockFixtures.secretDirectory(runner, "modes")
        let required = Binaries.shared.profile(named: "landlock-required-\(runner.who.rawValue)",
                                               "extends: strict\nlandlock: required\n")
        let result = try runner.run(["--profile", required, "/bin/sh", "-c", "echo ran"])
        #expect(result.status == 0 && result.stdout == "ran\n", "\(result.stderr)")
        // Off: even an excluded path is readable (only the mounts decide).
        let off = LandlockFixtures.profile("landlock-off-\(runner.who.rawValue)", dir: dir, exclude: true,
                                           extra: "landlock: off")
        let read = try runner.run(["--profile", off, "/bin/cat", dir + "/secret.txt"])
        #expect(read.status == 0 && read.stdout == "visible through the mount\n", "\(read.stderr)")
    }

    @Test("--dry-run text and JSON show the Landlock ABI, the handled rights and the rules", arguments: Runner.all)
    func dryRunShowsLandlock(runner: Runner) throws {
        let abi = LandlockFixtures.hostABI
        let text = try runner.run(["--profile", "strict", "--dry-run", "/bin/true"])
        #expect(text.status == 0, "\(text.stderr)")
        if abi >= 1 {
            #expect(text.stdout.contains("best-effort, ABI \(abi)"), "\(text.stdout)")
            #expect(text.stdout.contains("allow /usr") && text.stdout.contains("execute read-file read-dir"))
            #expect(text.stdout.contains("allow /tmp"))
        } else {
            #expect(text.stdout.contains("landlock: not available on this kernel (best-effort: off)"))
        }
        let json = try runner.run(["--profile", "strict", "--dry-run", "--format", "json", "/bin/true"])
        #expect(json.status == 0, "\(json.stderr)")
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let landlock = try #require(plan["landlock"] as? [String: Any])
        #expect(landlock["abi"] as? Int == abi)
        #expect(landlock["mode"] as? String == "best-effort")
        let rules = try #require(landlock["rules"] as? [[String: Any]])
        let usr = try #require(rules.first { $0["path"] as? String == "/usr" })
        #expect(usr["access"] as? [String] == ["execute", "read-file", "read-dir"])
        #expect(!rules.contains { ($0["path"] as? String)?.hasPrefix("/etc/ssh") == true })
    }

    static func doctorChecks(_ result: Runner.Result) throws -> [String: [String: Any]] {
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]],
                                  "\(result.stdout)\n\(result.stderr)")
        return Dictionary(parsed.map { (($0["check"] as? String) ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }

    @Test("doctor names the Landlock ABI, rights and scopes lpa-run uses; user namespaces can be made here",
          arguments: Runner.all)
    func doctorReportsLandlock(runner: Runner) throws {
        let checks = try Self.doctorChecks(try runner.run(["doctor", "--format", "json"]))
        let abi = LandlockFixtures.hostABI
        let landlock = try #require(checks["Landlock"])
        if abi >= 1 {
            let detail = landlock["detail"] as? String ?? ""
            #expect(detail.contains("ABI version \(abi)") && detail.contains("read-file"), "\(detail)")
            #expect(detail.contains(abi >= 6 ? "scopes signal abstract-unix-socket" : "no scopes"), "\(detail)")
        }
        let creation = try #require(checks["user namespace creation"])
        #expect(creation["ok"] as? Bool == true, "\(creation)")
    }

    /// Inside lpa-run's own sandbox a seccomp filter refuses CLONE_NEWUSER, as a
    /// container's default profile does: doctor says a seccomp filter is the likely cause.
    @Test("doctor blames a surrounding seccomp filter when user namespaces cannot be made", arguments: Runner.all)
    func doctorBlamesSurroundingSeccomp(runner: Runner) throws {
        // A debug lpa-run loads the Swift runtime from the toolchain (the shipped one is static).
        let profile = Binaries.shared.profile(named: "landlock-doctor-inside", """
            extends: strict
            filesystem:
              read-only:
                - \(Binaries.shared.directory)
                - {path: /opt/swift/usr/lib/swift/linux, optional: true}
            """)
        let result = try runner.run(["--profile", profile, Binaries.shared.lpaRun, "doctor", "--format", "json"])
        let creation = try #require(try Self.doctorChecks(result)["user namespace creation"])
        #expect(creation["ok"] as? Bool == false, "\(creation)")
        #expect((creation["detail"] as? String)?.contains("EPERM") == true, "\(creation)")
        #expect((creation["detail"] as? String)?.contains("Seccomp: 2") == true, "\(creation)")
        #expect((creation["fix"] as? String)?.contains("seccomp filter of the surrounding container") == true, "\(creation)")
    }

    /// Inside the sandbox's own network namespace: bind (and listen on) each port, then
    /// connect to each; prints "bind PORT ok|ERRNO" and "connect PORT ok|ERRNO".
    static func portScript(bind: [UInt16], connect: [UInt16]) -> String {
        """
        import socket, errno
        listeners = []
        def attempt(what, port, call):
            try:
                call(); print(what, port, "ok")
            except OSError as e:
                print(what, port, errno.errorcode.get(e.errno, e.errno))
        for port in \(bind):
            s = socket.socket(); listeners.append(s)
            attempt("bind", port, lambda: (s.bind(("127.0.0.1", port)), s.listen()))
        for port in \(connect):
            c = socket.socket()
            attempt("connect", port, lambda: c.connect(("127.0.0.1", port)))
        """
    }

    @Test("bind-ports: bind on a listed port works, on another fails with EACCES; a published port is bindable",
          arguments: Runner.all)
    func bindPortsAreEnforced(runner: Runner) throws {
        try #require(LandlockFixtures.hostABI >= 4, "this kernel has no Landlock TCP rules")
        let profile = Binaries.shared.profile(named: "landlock-bind-\(runner.who.rawValue)", """
            extends: strict
            network:
              bind-ports: [18431]
            """)
        let published = try LoopbackHTTP.candidatePort()
        let script = Self.portScript(bind: [18431, 18432, 18433], connect: [])
        let result = try runner.run(["--profile", profile, "-p", "127.0.0.1:\(published):18433",
                                     "/usr/bin/python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "bind 18431 ok\nbind 18432 EACCES\nbind 18433 ok\n", "\(result.stderr)")
        // Without the setting every port binds (the presets' default).
        let open = try runner.run(["--profile", "strict", "/usr/bin/python3", "-c", script])
        #expect(open.stdout == "bind 18431 ok\nbind 18432 ok\nbind 18433 ok\n", "\(open.stderr)")
    }

    @Test("connect-ports: connect to a listed port works, to another fails with EACCES; a --connect port is reachable",
          arguments: Runner.all)
    func connectPortsAreEnforced(runner: Runner) throws {
        try #require(LandlockFixtures.hostABI >= 4, "this kernel has no Landlock TCP rules")
        let profile = Binaries.shared.profile(named: "landlock-connect-\(runner.who.rawValue)", """
            extends: strict
            network:
              connect-ports: [18441]
            """)
        let script = Self.portScript(bind: [18441, 18442], connect: [18441, 18442])
        let result = try runner.run(["--profile", profile, "/usr/bin/python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "bind 18441 ok\nbind 18442 ok\nconnect 18441 ok\nconnect 18442 EACCES\n",
                "\(result.stderr)")
        // A --connect endpoint's sandbox port is always connectable, even with an empty list.
        let listener = try LoopbackListener()
        let none = Binaries.shared.profile(named: "landlock-connect-none-\(runner.who.rawValue)", """
            extends: strict
            network:
              connect-ports: []
            """)
        let reached = try runner.run(["--profile", none, "--connect", "127.0.0.1:\(listener.port):18443",
                                      "/usr/bin/python3", "-c", Self.portScript(bind: [], connect: [18443, 18444])])
        #expect(reached.stdout == "connect 18443 ok\nconnect 18444 EACCES\n", "\(reached.stderr)")
    }
    @Test("connect-ports with the host network: TCP Fast Open (MSG_FASTOPEN) cannot reach an unlisted port",
          arguments: Runner.all)
    func tcpFastOpenIsRefusedWithConnectPorts(runner: Runner) throws {
        try #require(LandlockFixtures.hostABI >= 4, "this kernel has no Landlock TCP rules")
        let allowed = try LoopbackListener()
        let other = try LoopbackListener()
        let profile = Binaries.shared.profile(named: "landlock-tfo-\(runner.who.rawValue)", """
            extends: strict
            network:
              mode: host
              connect-ports: [\(allowed.port)]
            """)
        let result = try runner.run(["--profile", profile, "/usr/bin/python3", "-c", TCPFastOpen.script(port: other.port)])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "sendto EPERM\nsendmsg EPERM\n", "\(result.stderr)")
        #expect(!TCPFastOpen.hasPendingConnection(other.fd), "the listener on an unlisted port saw a connection")
    }

    @Test("with TCP ports restricted, inet stream sockets of other protocols (MPTCP, SCTP) are refused",
          arguments: Runner.all)
    func otherStreamProtocolsAreRefusedWithPortRules(runner: Runner) throws {
        try #require(LandlockFixtures.hostABI >= 4, "this kernel has no Landlock TCP rules")
        let allowed = try LoopbackListener()
        let other = try LoopbackListener()
        let profile = Binaries.shared.profile(named: "landlock-mptcp-\(runner.who.rawValue)", """
            extends: strict
            network:
              mode: host
              connect-ports: [\(allowed.port)]
            """)
        // Landlock's port rules look at IPPROTO_TCP sockets only: an MPTCP socket (262)
        // would connect to the unlisted port (red team, round 2).
        let script = """
            import errno, socket
            for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::ffff:127.0.0.1")):
                for protocol in (262, 132):
                    try:
                        s = socket.socket(family, socket.SOCK_STREAM, protocol)
                        s.settimeout(2)
                        s.connect((address, \(other.port)))
                        print("connected", protocol)
                    except OSError as e:
                        print(protocol, errno.errorcode.get(e.errno, e.errno))
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 6)
            s.connect(("127.0.0.1", \(allowed.port)))
            print("tcp ok")
            """
        let result = try runner.run(["--profile", profile, "/usr/bin/python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "262 EPERM\n132 EPERM\n262 EPERM\n132 EPERM\ntcp ok\n", "\(result.stderr)")
        #expect(!TCPFastOpen.hasPendingConnection(other.fd), "the listener on an unlisted port saw a connection")
    }
}
