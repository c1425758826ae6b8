import Foundation
import Testing

/// The real llama.cpp llama-server and tiny GGUF that `make llama` builds (never
/// downloaded), copied next to the test binaries so every runner can read them.
final class Llama: Sendable {
    static let shared = Result { try Llama() }
    let server: String
    let model: String

    /// The shared copy; throws (failing the test, not the test process) when
    /// `make llama` has not run.
    static func get() throws -> Llama { try shared.get() }

    private init() throws {
        let env = ProcessInfo.processInfo.environment
        let cache = env["LPA_CACHE"] ?? ((env["XDG_CACHE_HOME"] ?? (env["HOME"] ?? "/root") + "/.cache") + "/lpa-run-dev")
        let builtServer = env["LPA_LLAMA_SERVER"] ?? cache + "/llama/bin/llama-server"
        let builtModel = env["LPA_TINY_MODEL"] ?? cache + "/llama/tiny.gguf"
        let fm = FileManager.default
        guard fm.isExecutableFile(atPath: builtServer), fm.fileExists(atPath: builtModel) else {
            throw TestFailure("llama-server or the tiny model is missing (\(builtServer), \(builtModel)): run `make llama` (see Makefile)")
        }
        let dir = Binaries.shared.directory + "/llama"
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o755)
        server = dir + "/llama-server"
        model = dir + "/tiny.gguf"
        for (from, to, mode) in [(builtServer, server, 0o755), (builtModel, model, 0o644)] where !fm.fileExists(atPath: to) {
            try copyExecutable(from, to: to)
            chmod(to, mode_t(mode))
        }
    }
}

/// Regular files under `roots` modified since `since` that contain `needle`. find(1)
/// lists the candidates (a home holds hundreds of thousands of files; a Foundation
/// walk of them takes half a minute), then each is read.
func filesContaining(_ needle: String, under roots: [String], modifiedSince since: Date) throws -> [String] {
    let existing = roots.filter { FileManager.default.fileExists(atPath: $0) }
    guard !existing.isEmpty else { return [] }
    let find = try BackgroundProcess(["/usr/bin/find"] + existing
                                     + ["-type", "f", "-newermt", "@\(Int(since.timeIntervalSince1970))", "-size", "-256M", "-print0"],
                                     name: "find")
    let status = try find.waitForExit("listing files under \(existing)", within: 120)
    // 1: some directory could not be read (another user's); what could be read is listed.
    guard status == 0 || status == 1 else { throw TestFailure("find exited with \(status): \(find.stderr.suffix(400))") }
    let bytes = Data(needle.utf8)
    return find.stdout.split(separator: "\0").map(String.init).filter { path in
        (try? Data(contentsOf: URL(fileURLWithPath: path)))?.range(of: bytes) != nil
    }
}

/// A directory this test made and removes (`defer { dir.remove() }`), owned by the
/// uid the sandbox runs as so the workload can write there.
struct TestDirectory {
    let path: String

    init(under parent: String, owner: uid_t, mode: mode_t = 0o700) throws {
        path = parent + "/lpa-test-\(UUID().uuidString.prefix(8))"
        guard mkdir(path, mode) == 0 else { throw TestFailure("mkdir \(path): \(describeErrno(errno))") }
        chmod(path, mode)
        guard chown(path, owner, owner) == 0 else { throw TestFailure("chown \(path): \(describeErrno(errno))") }
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A profile that extends strict with one host directory bound read-write: what a
/// workload writes there reaches the host, on purpose.
func readWriteProfile(_ directory: String, named name: String) -> String {
    Binaries.shared.profile(named: name, """
        description: strict plus one read-write directory
        extends: strict
        filesystem:
          read-write: [\(directory)]
        """)
}

/// Published ports and host endpoints, end to end with a real llama-server.
@Suite("serving through lpa-run", .serialized)
struct ServingTests {
    @Test("llama-server in the strict sandbox answers health, completions and chat through -p, and persists nothing",
          arguments: Runner.all)
    func llamaServerEndToEnd(runner: Runner) throws {
        let llama = try Llama.get()
        let start = Date().addingTimeInterval(-1)
        let canary = "lpa-canary-\(UUID().uuidString)"
        let sandbox = try PublishedSandbox(runner: runner, ready: .http(path: "/health"), within: 180) { port in
            ["--profile", "strict", "--model", llama.model, "-p", "127.0.0.1:\(port):8080",
             llama.server, "-m", llama.model, "--host", "127.0.0.1", "--port", "8080"]
        }
        defer { sandbox.terminate() }
        let port = sandbox.port
        let health = try LoopbackHTTP.request(port: port, path: "/health")
        #expect(health.status == 200)
        #expect(health.body.contains("ok"))

        let completion = try LoopbackHTTP.request(port: port, method: "POST", path: "/completion",
                                                  body: #"{"prompt":"\#(canary)","n_predict":8,"temperature":0}"#)
        #expect(completion.status == 200)
        #expect(completion.body.contains("\"tokens_predicted\":"), "\(completion.body)")

        let streamed = try LoopbackHTTP.request(port: port, method: "POST", path: "/completion",
                                                body: #"{"prompt":"\#(canary)","n_predict":6,"stream":true,"temperature":0}"#)
        #expect(streamed.status == 200)
        // One server-sent event per token, the last one marked stop (generation may end early).
        let events = streamed.body.components(separatedBy: "data: ").count - 1
        #expect(events >= 2, "expected server-sent events: \(streamed.body)")
        #expect(streamed.body.contains("\"stop\":true"))

        let chat = try LoopbackHTTP.request(port: port, method: "POST", path: "/v1/chat/completions", body: """
            {"messages":[{"role":"user","content":"\(canary)"}],"max_tokens":8,"temperature":0}
            """)
        #expect(chat.status == 200)
        #expect(chat.body.contains("\"choices\""))

        let status = try sandbox.stop()
        #expect(status == 0, "llama-server exits cleanly on SIGTERM forwarded by lpa-run")

        // The scan is proven able to see a leak by CanaryTests.
        let leaks = try filesContaining(canary, under: [runner.home, "/tmp", "/var/tmp"], modifiedSince: start)
        #expect(leaks.isEmpty, "the prompt persisted on the host: \(leaks)")
    }

    @Test("the llama-server preset serves the tiny model end to end", arguments: Runner.all)
    func llamaServerPreset(runner: Runner) throws {
        let llama = try Llama.get()
        let sandbox = try PublishedSandbox(runner: runner, ready: .http(path: "/health"), within: 180) { port in
            ["--profile", "llama-server", "--model", llama.model, "-p", "127.0.0.1:\(port):8080",
             llama.server, "-m", llama.model, "--port", "8080"]
        }
        defer { sandbox.terminate() }
        let chat = try LoopbackHTTP.request(port: sandbox.port, method: "POST", path: "/v1/chat/completions",
                                            body: #"{"messages":[{"role":"user","content":"hello"}],"max_tokens":4,"temperature":0}"#)
        #expect(chat.status == 200)
        #expect(chat.body.contains("\"choices\""))
        #expect(try sandbox.stop() == 0)
    }

    @Test("an agent reaches the host llama-server through --connect and no other host listener",
          arguments: Runner.all)
    func agentConnectsToHostServer(runner: Runner) throws {
        let llama = try Llama.get()
        let server = try HostServer(name: "llama-server on the host") { port in
            [llama.server, "-m", llama.model, "--host", "127.0.0.1", "--port", String(port)]
        }
        defer { server.terminate() }
        let other = try LoopbackListener()
        #expect(other.canConnectFromHost())

        // The agent profile binds the working directory read-write: a fresh one.
        let project = try TestDirectory(under: Binaries.shared.directory, owner: runner.uid, mode: 0o755)
        defer { project.remove() }
        let agent = project.path + "/agent.py"
        try FileManager.default.copyItem(atPath: Self.agentSource, toPath: agent)
        chmod(agent, 0o644)
        let result = try runner.run([
            "--profile", "agent", "--connect", "127.0.0.1:\(server.port):8080",
            "/usr/bin/python3", agent, "--port", "8080", "--try-port", String(other.port),
        ], cwd: project.path, within: 120)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("model answered:"), "\(result.stdout)")
        #expect(result.stdout.contains("port \(other.port) reachable: no"), "\(result.stdout)")
    }

    /// examples/agent.py in this checkout.
    static let agentSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/agent.py").path
}

/// The canary scan the serving tests rely on, proven both ways: it finds what a
/// workload writes to a host-visible place on purpose, and finds nothing of what it
/// writes to the sandbox's tmpfs mounts.
@Suite("what a workload writes stays in the sandbox", .serialized)
struct CanaryTests {
    @Test("a canary written to a read-write bind is found on the host; the copies in the home, cache, /tmp, /var/tmp, /run and /dev/shm are not",
          arguments: Runner.all)
    func onlyTheReadWriteBindReachesTheHost(runner: Runner) throws {
        let start = Date().addingTimeInterval(-1)
        let canary = "lpa-canary-\(UUID().uuidString)"
        // Under the scanned /tmp, so the scan must tell the bind apart from the tmpfs.
        let shared = try TestDirectory(under: Binaries.shared.directory, owner: runner.uid)
        defer { shared.remove() }
        let profile = readWriteProfile(shared.path, named: "canary-rw-\(runner.who)")
        defer { unlink(profile) }
        let script = #"""
            for dir in "$HOME" "$XDG_CACHE_HOME" /tmp /var/tmp /run /dev/shm "$2"; do
              mkdir -p "$dir" && printf '%s\n' "$1" > "$dir/prompt.txt" && cat "$dir/prompt.txt" || exit 1
            done
            """#
        let result = try runner.shell(script, [canary, shared.path], profile: profile)
        #expect(result.status == 0, "\(result.stderr)")
        // Every write happened: seven copies read back inside.
        #expect(result.stdout.components(separatedBy: canary).count - 1 == 7, "\(result.stdout)")

        let hostCache = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? runner.home + "/.cache"
        let hits = try filesContaining(canary, under: [runner.home, hostCache, "/tmp", "/var/tmp", "/run", "/dev/shm"],
                                   modifiedSince: start)
        #expect(Set(hits) == [shared.path + "/prompt.txt"], "expected only the read-write bind's copy: \(hits)")
    }

    enum Place: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case home, cache
        var testDescription: String { self == .home ? "the tmpfs home" : "the tmpfs cache ($XDG_CACHE_HOME)" }
    }

    @Test("the tmpfs home and the tmpfs cache each keep a canary off the host on their own; the same path bound read-write does not",
          arguments: Runner.all, Place.allCases)
    func tmpfsOnItsOwn(runner: Runner, place: Place) throws {
        // Under /home: no other tmpfs of strict (/tmp, /var/tmp, /run) covers it, as
        // one would cover the unprivileged runner's usual home under /tmp.
        let dir = try TestDirectory(under: "/home", owner: runner.uid)
        defer { dir.remove() }
        let environment = place == .home ? ["HOME": dir.path] : ["XDG_CACHE_HOME": dir.path]
        let script = #"printf '%s\n' "$1" > "$2/prompt.txt" && cat "$2/prompt.txt""#

        let start = Date().addingTimeInterval(-1)
        let kept = "lpa-canary-\(UUID().uuidString)"
        let inside = try runner.shell(script, [kept, dir.path], environment: environment)
        #expect(inside.status == 0, "\(inside.stderr)")
        #expect(inside.stdout == kept + "\n", "the write inside must have happened")
        let keptHits = try filesContaining(kept, under: [dir.path], modifiedSince: start)
        #expect(keptHits.isEmpty, "\(place) let the canary through: \(keptHits)")

        // The control: a directory inside it bound read-write (on top of the tmpfs) reaches
        // the host. (Not the whole home or cache: no read-write bind may contain lpa-run's
        // own config or cache.)
        let shared = dir.path + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        chown(shared, runner.uid, runner.uid)
        let leaked = "lpa-canary-\(UUID().uuidString)"
        let profile = readWriteProfile(shared, named: "canary-\(place)-\(runner.who)")
        defer { unlink(profile) }
        let bound = try runner.shell(script, [leaked, shared], profile: profile, environment: environment)
        #expect(bound.status == 0, "\(bound.stderr)")
        #expect(try filesContaining(leaked, under: [dir.path], modifiedSince: start) == [shared + "/prompt.txt"])
    }
}
