import Foundation
import Testing

/// Issue 15, items 1, 2 and 7, in real sandboxes: --ro/--rw/--tmpfs, a real virtual
/// environment (`python3 -m venv`) run by its interpreter and by a script's `#!`, and a
/// preset's model argument bound while the file's directory stays unseen.
enum CommandLineBindFixtures {
    /// A fresh directory every runner can read, beside the test binaries.
    static func directory(_ name: String, for runner: Runner) throws -> String {
        let dir = Binaries.shared.directory + "/\(name)-\(runner.who.rawValue)"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o755)
        return dir
    }

    static func write(_ text: String, to path: String, mode: mode_t = 0o644) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
    }

    /// Runs a host program (not sandboxed) and requires success.
    static func host(_ argv: [String]) throws {
        let child = try Spawned(argv, environment: ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent"], cwd: "/")
        let (status, stdout, stderr) = child.finish(seconds: 120)
        guard status == 0 else {
            throw POSIXError(.EIO, userInfo: [NSLocalizedDescriptionKey: "\(argv): \(stdout)\(stderr)"])
        }
    }

    /// A real virtual environment made by `python3 -m venv` (no pip: no network), with a
    /// module only it has; readable by every runner. Returns the root and the value the
    /// module holds.
    static func venv(for runner: Runner) throws -> (root: String, value: String) {
        let base = try directory("venv", for: runner)
        let root = base + "/.venv"
        try host(["/usr/bin/python3", "-m", "venv", "--without-pip", root])
        let lib = try FileManager.default.contentsOfDirectory(atPath: root + "/lib").first { $0.hasPrefix("python3") }
        let sitePackages = root + "/lib/" + (lib ?? "python3") + "/site-packages"
        let value = "venv-canary-\(getpid())-\(runner.who.rawValue)"
        try write("VALUE = \"\(value)\"\n", to: sitePackages + "/lpa_venv_canary.py")
        try host(["/bin/chmod", "-R", "a+rX", base])
        return (root, value)
    }
}

@Suite("command-line binds, virtual environments, model arguments (issue 15)", .serialized)
struct CommandLineBindSandboxTests {
    @Test("--ro reads, cannot write; --rw writes through to the host; --tmpfs is fresh and bounded",
          arguments: Runner.all)
    func bindsFromTheCommandLine(runner: Runner) throws {
        let base = try CommandLineBindFixtures.directory("clb", for: runner)
        let ro = base + "/ro"
        let rw = base + "/rw"
        for dir in [ro, rw] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        chmod(ro, 0o755)
        chmod(rw, 0o755)
        chown(rw, runner.sandboxUid, runner.sandboxUid)
        try CommandLineBindFixtures.write("hello-ro\n", to: ro + "/in.txt")
        let script = """
            cat /srv/ro/in.txt
            (echo x > /srv/ro/new) 2>/dev/null && echo ro-writable || echo ro-refused
            echo data > \(rw)/out.txt && echo rw-ok
            echo y > /scratch/f && echo tmpfs-ok
            dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>/dev/null && echo tmpfs-unbounded || echo tmpfs-full
            """
        let result = try runner.run(["--profile", "strict", "--ro", ro + ":/srv/ro", "--rw", rw,
                                     "--tmpfs", "/scratch:1M", "/bin/sh", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "hello-ro\nro-refused\nrw-ok\ntmpfs-ok\ntmpfs-full\n", "\(result.stderr)")
        #expect(CommandLineBindFixtures.host(file: rw + "/out.txt") == "data\n")
        #expect(!FileManager.default.fileExists(atPath: ro + "/new"))
        #expect(!FileManager.default.fileExists(atPath: base + "/scratch"))
    }

    @Test("--dry-run shows each option's argv position, in text and JSON", arguments: Runner.all)
    func dryRunProvenance(runner: Runner) throws {
        let base = try CommandLineBindFixtures.directory("clb-dry", for: runner)
        let text = try runner.run(["--profile", "strict", "--dry-run", "--ro", base + ":/data", "--tmpfs", "/scratch",
                                   "/bin/true"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("[command line, argv[4]: --ro \(base):/data]"), "\(text.stdout)")
        #expect(text.stdout.contains("[command line, argv[6]: --tmpfs /scratch]"), "\(text.stdout)")
        let json = try runner.run(["--profile", "strict", "--dry-run", "--format", "json", "--ro=" + base,
                                   "/bin/true"])
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let mounts = try #require(plan["mounts"] as? [[String: Any]])
        let mount = try #require(mounts.first { $0["target"] as? String == base })
        let origin = try #require(mount["origin"] as? [String: Any])
        #expect(origin["file"] as? String == "command line")
        #expect(origin["line"] as? Int == 6)
        #expect(origin["detail"] as? String == "--ro " + base)
    }

    @Test("the same refusals as profile binds, at the option's argv position; nothing runs", arguments: Runner.all)
    func refusalsNameTheOption(runner: Runner) throws {
        let base = try CommandLineBindFixtures.directory("clb-refuse", for: runner)
        // Not beside the binaries: other tests bind that directory, and a socket there
        // would make their binds refused.
        let sockets = Binaries.shared.scratch + "/clb-sockets-\(runner.who.rawValue)"
        try? FileManager.default.removeItem(atPath: sockets)
        try FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: true)
        chmod(sockets, 0o755)
        try CommandLineBindFixtures.host(["/usr/bin/python3", "-c",
                                          "import socket; socket.socket(socket.AF_UNIX).bind('\(sockets)/agent.sock')"])
        let marker = base + "/ran"
        let cases: [([String], String)] = [
            (["--ro", "/"], "command line:3:1: error: '/' would expose the home directory"),
            (["--rw", runner.home + "/.config"], "command line:3:1: error: '\(runner.home)/.config' read-write would let"),
            (["--ro", sockets], "command line:3:1: error: '\(sockets)' holds a unix socket"),
            (["--ro", base + ":/data", "--tmpfs", "/data"],
             "command line:5:1: error: '/data' is already read-only at command line, argv[3]: --ro \(base):/data"),
            (["--tmpfs", "/proc/x"], "command line:3:1: error: cannot mount over '/proc/x'"),
        ]
        for (options, expected) in cases {
            let result = try runner.run(["--profile", "strict"] + options + ["/bin/sh", "-c", "echo > \(marker)"])
            #expect(result.status == 125, "\(options): \(result.stderr)")
            #expect(result.stderr.contains(expected), "\(options): \(result.stderr)")
            #expect(result.stderr.contains("\n" + options.suffix(2).joined(separator: " ") + "\n"),
                    "the option as typed is quoted: \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: marker))
        }
    }

    @Test("a venv's interpreter imports what only the venv has; so does a script whose #! names it",
          arguments: Runner.all)
    func virtualEnvironment(runner: Runner) throws {
        let (root, value) = try CommandLineBindFixtures.venv(for: runner)
        let result = try runner.run(["--profile", "strict", root + "/bin/python", "-c",
                                     "import lpa_venv_canary, sys; print(lpa_venv_canary.VALUE); print(sys.prefix)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "\(value)\n\(root)\n", "\(result.stderr)")

        // An entry point of the environment (bin/agent, whose #! names its python) runs.
        let entry = root + "/bin/lpa-agent"
        try CommandLineBindFixtures.write("#!\(root)/bin/python\nimport lpa_venv_canary\nprint('agent', lpa_venv_canary.VALUE)\n",
                                          to: entry, mode: 0o755)
        let agent = try runner.run(["--profile", "strict", entry])
        #expect(agent.status == 0, "\(agent.stderr)")
        #expect(agent.stdout == "agent \(value)\n", "\(agent.stderr)")

        // A script outside the environment does not choose what is bound by its #! line
        // (red team: a planted script exposed a project that was a venv root): a warning
        // names the fix, and with it the script runs.
        let script = (root as NSString).deletingLastPathComponent + "/agent.py"
        try CommandLineBindFixtures.write("#!\(root)/bin/python\nimport lpa_venv_canary\nprint('agent', lpa_venv_canary.VALUE)\n",
                                          to: script, mode: 0o755)
        let outside = try runner.run(["--profile", "strict", script])
        #expect(outside.status != 0)
        #expect(outside.stderr.contains("not binding \(root) automatically: \(script) lies outside it"), "\(outside.stderr)")
        #expect(outside.stderr.contains("hint: if you trust that environment, add --ro \(root)"), "\(outside.stderr)")
        let trusted = try runner.run(["--profile", "strict", "--ro", root, script])
        #expect(trusted.stdout == "agent \(value)\n", "\(trusted.stderr)")

        // Only the environment's parts: a file beside them in its root stays unseen (a
        // project made into a venv with `python3 -m venv .` keeps its .env to itself).
        try CommandLineBindFixtures.write("secret\n", to: root + "/.env")
        let parts = try runner.run(["--profile", "strict", root + "/bin/python", "-c",
                                    "import os; print(os.path.exists('\(root)/.env'))"])
        #expect(parts.stdout == "False\n", "\(parts.stderr)")

        // The environment root and nothing above it: the script's directory stays unseen.
        let probe = try runner.run(["--profile", "strict", root + "/bin/python", "-c",
                                    "import os; print(os.path.exists('\(root)/pyvenv.cfg'), os.path.exists('\(script)'))"])
        #expect(probe.stdout == "True False\n", "\(probe.stderr)")

        let dry = try runner.run(["--profile", "strict", "--dry-run", root + "/bin/python"])
        #expect(dry.stdout.contains("[automatic: \(root)/bin/python runs in a Python virtual environment (pyvenv.cfg)]"),
                "\(dry.stdout)")
        let viaVariable = try runner.run(["--profile", "strict", "--dry-run", "python3"], env: ["VIRTUAL_ENV": root])
        #expect(viaVariable.stdout.contains("[automatic: python3 with VIRTUAL_ENV=\(root)"), "\(viaVariable.stdout)")
    }

    @Test("a preset's model argument is bound alone; without one, lpa-run names the fix", arguments: Runner.all)
    func modelArguments(runner: Runner) throws {
        let base = try CommandLineBindFixtures.directory("clb-model", for: runner)
        let models = base + "/models"
        try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true)
        chmod(models, 0o755)
        try CommandLineBindFixtures.write("GGUF-canary\n", to: models + "/m.gguf")
        try CommandLineBindFixtures.write("other\n", to: models + "/other.gguf")
        let profile = Binaries.shared.profile(named: "model-arguments-\(runner.who.rawValue)",
                                              "extends: strict\nmodel-arguments: [-m, --model]\n")
        let script = #"cat "$2"; cat "${2%/*}/other.gguf" 2>/dev/null || echo sibling-unseen"#
        let served = try runner.run(["--profile", profile, "/bin/sh", "-c", script, "sh", "-m", models + "/m.gguf"])
        #expect(served.status == 0, "\(served.stderr)")
        #expect(served.stdout == "GGUF-canary\nsibling-unseen\n", "\(served.stderr)")
        #expect(!served.stderr.contains("warning"), "\(served.stderr)")
        let dry = try runner.run(["--profile", profile, "--dry-run", "/bin/sh", "-c", script, "sh", "-m", models + "/m.gguf"])
        #expect(dry.stdout.contains("[command line, argv[9]: -m \(models)/m.gguf, a model argument ("), "\(dry.stdout)")

        // strict knows no model argument: the file is unseen, and the warning says how.
        let plain = try runner.run(["--profile", "strict", "/bin/sh", "-c", script, "sh", "-m", models + "/m.gguf"])
        #expect(plain.stderr.contains("command line:8:1: warning: '\(models)/m.gguf' names \(models)/m.gguf, which the "
                                      + "sandbox cannot see"), "\(plain.stderr)")
        #expect(plain.stderr.contains("hint: add --model \(models)/m.gguf, or use a preset"), "\(plain.stderr)")
        #expect(!plain.stdout.contains("GGUF-canary"))
        let fixed = try runner.run(["--profile", "strict", "--model", models + "/m.gguf",
                                    "/bin/sh", "-c", script, "sh", "-m", models + "/m.gguf"])
        #expect(fixed.stdout == "GGUF-canary\nsibling-unseen\n", "\(fixed.stderr)")
        #expect(!fixed.stderr.contains("cannot see"), "\(fixed.stderr)")
    }

    @Test("the README's first line: the llama-server preset serves `-m MODEL` as typed, without --model",
          arguments: Runner.all)
    func readmeFirstLine(runner: Runner) throws {
        let llama = try Llama.get()
        let sandbox = try PublishedSandbox(runner: runner, ready: .http(path: "/health"), within: 180) { port in
            ["--profile", "llama-server", "-p", "127.0.0.1:\(port):8080", llama.server, "-m", llama.model,
             "--port", "8080"]
        }
        defer { sandbox.terminate() }
        let chat = try LoopbackHTTP.request(port: sandbox.port, method: "POST", path: "/v1/chat/completions",
                                            body: #"{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}"#)
        #expect(chat.status == 200)
        #expect(try sandbox.stop() == 0)
    }
}

extension CommandLineBindFixtures {
    static func host(file path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
}
