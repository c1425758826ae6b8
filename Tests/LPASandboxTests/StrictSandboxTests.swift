import Foundation
import Testing

/// The strict profile, run for real: what the workload can see and do.
@Suite("strict sandbox", .serialized)
struct StrictSandboxTests {
    @Test("the workload has no capabilities, no_new_privs and a seccomp filter", arguments: Runner.all)
    func hardenedProcessState(runner: Runner) throws {
        let result = try runner.probe(["status"])
        #expect(result.status == 0, "\(result.stderr)")
        let f = result.fields
        #expect(f["CapEff"] == "0000000000000000")
        #expect(f["CapPrm"] == "0000000000000000")
        #expect(f["CapBnd"] == "0000000000000000")
        #expect(f["CapAmb"] == "0000000000000000")
        #expect(f["CapInh"] == "0000000000000000")
        #expect(f["NoNewPrivs"] == "1")
        #expect(f["Seccomp"] == "2")
        #expect(f["core-limit"] == "0")
    }

    @Test("pid 1 is lpa-run's init and the host's processes are invisible", arguments: Runner.all)
    func pidIsolation(runner: Runner) throws {
        let f = try runner.probe(["status"]).fields
        #expect(f["ppid"] == "1")
        #expect(f["pid"] == "2")
        // init and the probe itself
        #expect(f["processes"] == "2")
    }

    @Test("only loopback exists and the hostname is the plan's", arguments: Runner.all)
    func networkAndHostname(runner: Runner) throws {
        let f = try runner.probe(["status"]).fields
        #expect(f["interfaces"] == "lo")
        #expect(f["hostname"] == "lpa-sandbox")
    }

    @Test("a descriptor left open in lpa-run's parent is closed inside", arguments: Runner.all)
    func inheritedDescriptorsClosed(runner: Runner) throws {
        // The shell opens fd 7 without close-on-exec and execs lpa-run with it.
        let argv = runner.command(["--profile", "strict", Binaries.shared.probe, "status"])
        let script = "exec 7</etc/hostname; exec " + argv.map { "'\($0)'" }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.environment = runner.environment()
        process.currentDirectoryURL = URL(fileURLWithPath: Binaries.shared.directory)
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(text.contains("\nfds 0 1 2\n"), "\(text)")
    }

    @Test("a secret in the host environment is absent inside while LANG passes", arguments: Runner.all)
    func secretsScrubbed(runner: Runner) throws {
        let result = try runner.probe(["env"], env: ["OPENAI_API_KEY": "sk-canary-1234", "HF_TOKEN": "hf_canary",
                                                      "LANG": "C.UTF-8"])
        #expect(result.status == 0)
        #expect(!result.stdout.contains("sk-canary-1234"))
        #expect(!result.stdout.contains("OPENAI_API_KEY"))
        #expect(!result.stdout.contains("hf_canary"))
        #expect(result.stdout.contains("LANG=C.UTF-8"))
    }

    @Test("python3 prints from inside the sandbox", arguments: Runner.all)
    func realProgramRuns(runner: Runner) throws {
        let result = try runner.run(["--profile", "strict", "/usr/bin/python3", "-c", "print(1)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "1\n")
    }
}

/// Host resources the strict sandbox must not reach.
@Suite("strict sandbox: host resources", .serialized)
struct HostResourceTests {
    @Test("a listener on the host's 127.0.0.1 cannot be reached from inside", arguments: Runner.all)
    func hostLoopbackUnreachable(runner: Runner) throws {
        let listener = try LoopbackListener()
        // The listener is real: the host itself can connect.
        #expect(listener.canConnectFromHost())
        let result = try runner.probe(["connect-tcp", "127.0.0.1", String(listener.port)])
        #expect(result.fields["connect-tcp"] == "ECONNREFUSED", "\(result.stdout)\(result.stderr)")
    }

    @Test("an abstract unix socket bound on the host cannot be reached from inside", arguments: Runner.all)
    func abstractSocketUnreachable(runner: Runner) throws {
        let name = "lpa-test-\(getpid())-\(runner.who.rawValue)"
        let socket = try AbstractListener(name: name)
        #expect(socket.canConnectFromHost())
        let result = try runner.probe(["connect-abstract", name])
        #expect(result.fields["connect-abstract"] == "ECONNREFUSED", "\(result.stdout)\(result.stderr)")
    }

    @Test("a canary file in the host's home is not visible", arguments: Runner.all)
    func hostHomeHidden(runner: Runner) throws {
        let canary = runner.home + "/lpa-canary-\(getpid())"
        try "secret".write(toFile: canary, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: canary) }
        chmod(canary, 0o644)
        let result = try runner.probe(["read", canary])
        #expect(result.fields["read"] == "ENOENT", "\(result.stdout)\(result.stderr)")
    }

    @Test("host paths are read-only", arguments: Runner.all)
    func hostPathsReadOnly(runner: Runner) throws {
        for path in ["/etc/lpa-probe-\(getpid())", "/usr/lpa-probe-\(getpid())", "/lpa-probe-\(getpid())"] {
            let result = try runner.probe(["write", path])
            #expect(result.fields["write"] == "EROFS", "\(path): \(result.stdout)\(result.stderr)")
        }
    }

    @Test("writes to /tmp and home succeed inside and leave nothing on the host", arguments: Runner.all)
    func tmpfsWritesVanish(runner: Runner) throws {
        let name = "lpa-written-\(getpid())-\(runner.who.rawValue)"
        for path in ["/tmp/\(name)", runner.home + "/\(name)", "/var/tmp/\(name)"] {
            let result = try runner.probe(["write", path])
            #expect(result.fields["write"] == "ok", "\(path): \(result.stdout)\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: path), "\(path) persisted on the host")
        }
    }

    /// A file and a directory every user can read, hidden by a profile: unreadable inside.
    /// The control run binds the same paths without the hide and reads them, so the test
    /// fails if hiding stops working, whoever runs it (unlike /etc/shadow, which uid 65534
    /// cannot read anyway).
    @Test("hidden files and directories are unreadable; without the hide they are read (control)",
          arguments: Runner.all)
    func hidesWithControl(runner: Runner) throws {
        let dir = Binaries.shared.directory + "/hide-fixture-\(runner.who.rawValue)"
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/private", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: dir) }
        for path in [dir + "/secret", dir + "/private/key"] {
            #expect(fm.createFile(atPath: path, contents: Data("hidden-canary\n".utf8)))
            chmod(path, 0o644)
        }
        chmod(dir, 0o755)
        chmod(dir + "/private", 0o755)
        let visible = Binaries.shared.profile(named: "hide-control-\(runner.who.rawValue)",
                                              "extends: strict\nfilesystem:\n  read-only: [\(dir)]\n")
        let hidden = Binaries.shared.profile(named: "hide-\(runner.who.rawValue)", """
            extends: strict
            filesystem:
              read-only: [\(dir)]
              hide: [\(dir)/secret, \(dir)/private]
            """)
        for path in [dir + "/secret", dir + "/private/key"] {
            let control = try runner.probe(["read", path], profile: visible)
            #expect(control.fields["read"] == "ok", "control \(path): \(control.stdout)\(control.stderr)")
        }
        let file = try runner.probe(["read", dir + "/secret"], profile: hidden)
        #expect(file.fields["read"] == "EACCES", "\(file.stdout)\(file.stderr)")
        let inDirectory = try runner.probe(["read", dir + "/private/key"], profile: hidden)
        #expect(inDirectory.fields["read"] != "ok", "\(inDirectory.stdout)\(inDirectory.stderr)")
        let listing = try runner.probe(["ls", dir + "/private"], profile: hidden)
        #expect(!listing.stdout.contains("key"), "\(listing.stdout)")
    }

    @Test("/etc/shadow is hidden", arguments: Runner.all)
    func shadowHidden(runner: Runner) throws {
        let result = try runner.probe(["read", "/etc/shadow"])
        #expect(result.fields["read"] == "EACCES", "\(result.stdout)\(result.stderr)")
    }
}
