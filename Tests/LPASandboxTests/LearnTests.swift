import Foundation
import Testing

/// `lpa-run learn`: a real run recorded, the profile it writes checked, and the same
/// workload run under it, as root and as uid 65534.
@Suite("lpa-run learn", .serialized)
struct LearnTests {
    /// A directory the runner can write its learned profile into.
    static func outputDirectory(_ runner: Runner) throws -> TestDirectory {
        try TestDirectory(under: Binaries.shared.scratch, owner: runner.callerUid, mode: 0o755)
    }

    /// The syscalls a learned profile allows (its `allow` list).
    static func allowList(_ text: String) -> [String] {
        text.split(separator: "\n").filter { $0.hasPrefix("    - ") }.map {
            String($0.dropFirst(6)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
    }

    /// Python that forks and execs a child which makes a call the parent never makes
    /// (getpriority), prints "ready", and with "wait" sleeps until a signal; with
    /// "personality" it also asks personality(2) (allowed by strict) for the persona.
    static let script = """
        import ctypes, os, subprocess, sys, time
        libc = ctypes.CDLL(None, use_errno=True)
        child = subprocess.run([sys.executable, "-c", "import os; os.getpriority(os.PRIO_PROCESS, 0); print('child ok')"])
        if child.returncode != 0: sys.exit(child.returncode)
        if "personality" in sys.argv:
            r = libc.personality(0xffffffff)
            print("personality", r, ctypes.get_errno(), flush=True)
        print("ready", flush=True)
        if "wait" in sys.argv:
            try:
                time.sleep(120)
            except KeyboardInterrupt:
                sys.exit(130)
        """

    @Test("a forking Python workload stopped with SIGINT: the child's calls are learned, the file passes check, the workload runs under it, and a call it never made fails",
          arguments: Runner.all)
    func pythonWorkload(runner: Runner) throws {
        let directory = try Self.outputDirectory(runner)
        defer { directory.remove() }
        let learned = directory.path + "/python.yaml"
        let learn = try BackgroundProcess(runner: runner, arguments: [
            "learn", "-o", learned, "--", "/usr/bin/python3", "-c", Self.script, "wait",
        ])
        defer { learn.terminate() }
        try learn.waitForLine("ready", within: 60)
        kill(learn.pid, SIGINT)
        let status = try learn.waitForExit("after SIGINT", within: 30)
        #expect(status == 0, "\(learn.stderr)")
        #expect(learn.stdout.contains("child ok"))
        let text = try String(contentsOfFile: learned, encoding: .utf8)
        let allowed = Self.allowList(text)
        #expect(text.contains("extends: \"builtin:strict\""), "\(text)")
        #expect(text.contains("  default: deny"))
        #expect(allowed.contains("getpriority"), "the forked child's call is learned: \(allowed)")
        // Python's subprocess starts the child with vfork (or clone), then execve.
        #expect(allowed.contains("execve") && (allowed.contains("vfork") || allowed.contains("clone")), "\(allowed)")
        #expect(!allowed.contains("personality") && !allowed.contains("ptrace") && !allowed.contains("mount"))
        #expect(learn.stderr.contains("syscalls allowed"), "\(learn.stderr)")

        // The same file again: refused without --force, before anything runs.
        let again = try runner.run(["learn", "-o", learned, "/bin/true"], within: 30)
        #expect(again.status == 125 && again.stderr.contains("exists"), "\(again.stderr)")

        let check = try runner.run(["check", learned], within: 30)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")

        // The same workload under the learned profile, then personality(2), which strict
        // allows and the run never made: EPERM.
        let under = try runner.run(["--profile", learned, "/usr/bin/python3", "-c", Self.script, "personality"],
                                   within: 60)
        #expect(under.status == 0, "\(under.stderr)")
        #expect(under.stdout.contains("child ok"))
        #expect(under.stdout.contains("personality -1 1"), "\(under.stdout)\(under.stderr)")
        let strict = try runner.run(["--profile", "strict", "/usr/bin/python3", "-c", Self.script, "personality"],
                                    within: 60)
        #expect(strict.status == 0 && !strict.stdout.contains("personality -1"), "\(strict.stdout)\(strict.stderr)")

        // --force replaces the file (renamed over it, no temporary left beside it).
        let forced = try runner.run(["learn", "-o", learned, "--force", "/bin/true"], within: 30)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try String(contentsOfFile: learned, encoding: .utf8).contains("# Command: /bin/true"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["python.yaml"])
    }

    @Test("-o inside a directory the sandbox can write is refused before the command runs", arguments: Runner.all)
    func outputInsideWritableBind(runner: Runner) throws {
        let directory = try Self.outputDirectory(runner)
        defer { directory.remove() }
        let result = try runner.run(["learn", "--rw", directory.path, "-o", directory.path + "/x.yaml", "/bin/echo", "ran"],
                                    within: 30)
        #expect(result.status == 125, "\(result.stderr)")
        #expect(result.stderr.contains("which the sandbox can write"), "\(result.stderr)")
        #expect(!result.stdout.contains("ran"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test("learning the probe's own escape attempts allows none of them: lpa-run probe --profile LEARNED",
          arguments: Runner.all)
    func probeEscapeClassesStayDenied(runner: Runner) throws {
        let directory = try Self.outputDirectory(runner)
        defer { directory.remove() }
        let learned = directory.path + "/probe.yaml"
        // The probe's syscall suite attempts every escape class; whatever strict let
        // through is learned, nothing it denied.
        let learn = try runner.run(["learn", "-o", learned, "--format", "json", Binaries.shared.probe, "syscalls"],
                                   within: 60)
        #expect(learn.status == 0, "\(learn.stderr)")
        #expect(learn.stderr.contains("\"allow\":["), "\(learn.stderr)")
        // The seccomp escape classes (every row of the syscall suite strict blocks) must
        // still be blocked. Rows about other parts of the sandbox (devices, hostname) fail
        // under this profile only because the probe's other checks were not learned.
        let strict = try Self.probeRows(runner, profile: "strict")
        let rows = try Self.probeRows(runner, profile: learned)
        let escapes = strict.filter { $0.value.intent == "blocked" && $0.value.detail.hasPrefix("seccomp ") }.map(\.key)
        #expect(escapes.count >= 25, "\(strict)")
        for probe in escapes + ["int80"] {
            #expect(rows[probe]?.intent == "blocked" && rows[probe]?.pass == true,
                    "\(probe): \(String(describing: rows[probe])) under the learned profile")
        }
    }

    /// probe name → intent, pass and detail of `lpa-run probe --profile PROFILE --format json`.
    static func probeRows(_ runner: Runner, profile: String) throws -> [String: (intent: String, pass: Bool, detail: String)] {
        let result = try runner.run(["probe", "--profile", profile, "--format", "json"], within: 120)
        guard let rows = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] else {
            throw TestFailure("probe --profile \(profile): \(result.stdout.prefix(400)) \(result.stderr.prefix(400))")
        }
        return Dictionary(rows.map { (($0["probe"] as? String) ?? "",
                                      (intent: ($0["intent"] as? String) ?? "", pass: ($0["pass"] as? Bool) ?? false,
                                       detail: ($0["detail"] as? String) ?? "")) },
                          uniquingKeysWith: { a, _ in a })
    }

    @Test("llama-server learned while serving (health, completion, streamed), stopped with SIGTERM, serves under the learned profile through -p",
          arguments: Runner.all)
    func llamaServer(runner: Runner) throws {
        let llama = try Llama.get()
        let directory = try Self.outputDirectory(runner)
        defer { directory.remove() }
        let learned = directory.path + "/llama.yaml"
        func exercise(_ port: UInt16) throws {
            let health = try LoopbackHTTP.request(port: port, path: "/health")
            #expect(health.status == 200)
            let completion = try LoopbackHTTP.request(port: port, method: "POST", path: "/completion",
                                                      body: #"{"prompt":"hello","n_predict":8,"temperature":0}"#)
            #expect(completion.status == 200)
            #expect(completion.body.contains("\"tokens_predicted\":"), "\(completion.body)")
            let streamed = try LoopbackHTTP.request(port: port, method: "POST", path: "/completion",
                                                    body: #"{"prompt":"hello","n_predict":6,"stream":true,"temperature":0}"#)
            #expect(streamed.status == 200)
            #expect(streamed.body.contains("\"stop\":true"), "\(streamed.body)")
        }
        let learning = try PublishedSandbox(runner: runner, ready: .http(path: "/health"), within: 180) { port in
            ["learn", "-o", learned, "--model", llama.model, "-p", "127.0.0.1:\(port):8080",
             llama.server, "-m", llama.model, "--host", "127.0.0.1", "--port", "8080"]
        }
        defer { learning.terminate() }
        try exercise(learning.port)
        #expect(try learning.stop(within: 60) == 0, "\(learning.lpaRun.stderr.suffix(800))")
        let text = try String(contentsOfFile: learned, encoding: .utf8)
        let allowed = Self.allowList(text)
        #expect(allowed.count > 20 && allowed.count < 200, "\(allowed)")
        #expect(!allowed.contains("ptrace") && !allowed.contains("mount") && !allowed.contains("personality"))
        print("learned llama-server allowlist: \(allowed.count) syscalls")

        let check = try runner.run(["check", learned], within: 30)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")

        let serving = try PublishedSandbox(runner: runner, ready: .http(path: "/health"), within: 180) { port in
            ["--profile", learned, "--model", llama.model, "-p", "127.0.0.1:\(port):8080",
             llama.server, "-m", llama.model, "--host", "127.0.0.1", "--port", "8080"]
        }
        defer { serving.terminate() }
        try exercise(serving.port)
        #expect(try serving.stop() == 0, "\(serving.lpaRun.stderr.suffix(800))")
    }
}
