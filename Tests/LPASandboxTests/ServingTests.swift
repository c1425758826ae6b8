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
            try fm.copyItem(atPath: from, toPath: to)
            chmod(to, mode_t(mode))
        }
    }
}

/// Files under `roots` modified since `since` that contain `needle`.
func filesContaining(_ needle: String, under roots: [String], modifiedSince since: Date) -> [String] {
    let fm = FileManager.default
    var hits: [String] = []
    let bytes = Data(needle.utf8)
    for root in roots {
        guard let walker = fm.enumerator(at: URL(fileURLWithPath: root),
                                         includingPropertiesForKeys: [.contentModificationDateKey, .isRegularFileKey, .fileSizeKey],
                                         options: [], errorHandler: { _, _ in true }) else { continue }
        for case let url as URL in walker {
            guard let values = try? url.resourceValues(forKeys: [.contentModificationDateKey, .isRegularFileKey, .fileSizeKey]),
                  values.isRegularFile == true, let modified = values.contentModificationDate, modified >= since,
                  (values.fileSize ?? 0) < 256 << 20 else { continue }
            if let data = try? Data(contentsOf: url), data.range(of: bytes) != nil { hits.append(url.path) }
        }
    }
    return hits
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

        let leaks = filesContaining(canary, under: [runner.home, "/tmp", "/var/tmp"], modifiedSince: start)
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
