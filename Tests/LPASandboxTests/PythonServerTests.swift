import Foundation
import Testing

/// The llama-cpp-python virtualenv (`python -m llama_cpp.server` and the official
/// `openai` client) that `make llama-cpp-python` builds, copied next to the test
/// binaries so that uid 65534 can read it (the cache lies in root's home).
final class PythonServerVenv: Sendable {
    static let shared = Result { try PythonServerVenv() }
    let root: String
    var python: String { root + "/bin/python" }

    static func get() throws -> PythonServerVenv { try shared.get() }

    private init() throws {
        let env = ProcessInfo.processInfo.environment
        let cache = env["LPA_CACHE"] ?? ((env["XDG_CACHE_HOME"] ?? (env["HOME"] ?? "/root") + "/.cache") + "/lpa-run-dev")
        let built = env["LPA_LLAMA_CPP_PYTHON"] ?? cache + "/llama-cpp-python/venv"
        guard FileManager.default.isExecutableFile(atPath: built + "/bin/python") else {
            throw TestFailure("the llama-cpp-python virtualenv is missing (\(built)): run `make llama-cpp-python`")
        }
        root = Binaries.shared.directory + "/python-server-venv"
        // cp -a keeps bin/python a link to the system interpreter, and the modes (a+rX).
        let copy = try Spawned(["/bin/cp", "-a", built, root], environment: ["PATH": "/usr/bin:/bin"], cwd: "/")
        let (status, _, stderr) = copy.finish(seconds: 300)
        guard status == 0 else { throw TestFailure("cp -a \(built): \(stderr)") }
    }
}

/// The second real server: llama-cpp-python's OpenAI-compatible server, run from its
/// virtualenv under the python-server preset, asked by the official openai client.
@Suite("llama-cpp-python through lpa-run", .serialized)
struct PythonServerTests {
    /// The preset as shipped: the virtualenv's root is bound by lpa-run itself (the
    /// command lives in it: pyvenv.cfg), which this suite proves end to end.
    func profile(_ venv: PythonServerVenv, runner: Runner) -> String { "python-server" }

    /// The openai client on the host, against the published port: a chat completion,
    /// then a streamed one. Prints "chat <finish_reason> <tokens>" and "stream <chunks> <text chars>".
    static let client = """
        import sys, openai
        port, canary = sys.argv[1], sys.argv[2]
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=120)
        messages = [{"role": "user", "content": canary}]
        reply = client.chat.completions.create(model="tiny", messages=messages, max_tokens=8, temperature=0)
        print("chat", reply.choices[0].finish_reason, reply.usage.completion_tokens, reply.object)
        chunks, text = 0, ""
        for chunk in client.chat.completions.create(model="tiny", messages=messages, max_tokens=6, temperature=0, stream=True):
            chunks += 1
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
        print("stream", chunks, len(text))
        """

    @Test("llama_cpp.server from its virtualenv under python-server answers the openai client, plain and streamed, and persists nothing",
          arguments: Runner.all)
    func openAIClientThroughPublishedPort(runner: Runner) throws {
        let venv = try PythonServerVenv.get()
        let llama = try Llama.get()
        let start = Date().addingTimeInterval(-1)
        let canary = "lpa-canary-\(UUID().uuidString)"
        let profile = profile(venv, runner: runner)
        let sandbox = try PublishedSandbox(runner: runner, ready: .http(path: "/v1/models"), within: 240) { port in
            ["--profile", profile, "--model", llama.model, "-p", "127.0.0.1:\(port):8000",
             venv.python, "-m", "llama_cpp.server", "--model", llama.model, "--host", "127.0.0.1", "--port", "8000",
             "--n_ctx", "256", "--n_threads", "2"]
        }
        defer { sandbox.terminate() }

        let child = try Spawned([venv.python, "-c", Self.client, String(sandbox.port), canary],
                                environment: ["PATH": "/usr/bin:/bin", "HOME": runner.home, "NO_PROXY": "*"],
                                cwd: Binaries.shared.directory)
        let (status, stdout, stderr) = child.finish(seconds: 240)
        #expect(status == 0, "openai client: \(stdout) \(stderr.suffix(2000)); server: \(sandbox.lpaRun.stderr.suffix(2000))")
        let lines = stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let chat = try #require(lines.first { $0.first == "chat" }, "\(stdout)")
        #expect(["stop", "length"].contains(chat[1]), "\(chat)")
        #expect((Int(chat[2]) ?? 0) > 0, "no tokens generated: \(chat)")
        #expect(chat[3] == "chat.completion")
        let stream = try #require(lines.first { $0.first == "stream" }, "\(stdout)")
        #expect((Int(stream[1]) ?? 0) >= 2, "expected several server-sent chunks: \(stream)")

        // uvicorn shuts down gracefully on the SIGTERM lpa-run forwards, then raises the
        // signal again so that its parent sees how it ended: 128+15.
        let exit = try sandbox.stop(within: 60)
        #expect(exit == 128 + SIGTERM, "\(sandbox.lpaRun.stderr.suffix(1500))")
        #expect(sandbox.lpaRun.stderr.contains("Finished server process"), "no graceful shutdown: \(sandbox.lpaRun.stderr.suffix(1500))")

        // The scan is proven able to see a leak by CanaryTests.
        let leaks = try filesContaining(canary, under: [runner.home, "/tmp", "/var/tmp"], modifiedSince: start)
        #expect(leaks.isEmpty, "the prompt persisted on the host: \(leaks)")
    }

    @Test("the python-server preset is offline and quiet: Hugging Face offline, no telemetry, loopback-only network")
    func presetSwitches() throws {
        let result = try Runner(who: .caller).run(["--profile", "python-server", "--dry-run", "--format", "json", "/bin/true"])
        #expect(result.status == 0, "\(result.stderr)")
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let environment = try #require(plan["environment"] as? [String: Any])
        let set = try #require(environment["set"] as? [[String: Any]])
        var values: [String: String] = [:]
        for entry in set { if let name = entry["name"] as? String { values[name] = entry["value"] as? String } }
        for variable in ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "DO_NOT_TRACK"] {
            #expect(values[variable] == "1", "\(variable): \(values)")
        }
        let network = try #require(plan["network"] as? [String: Any])
        #expect(network["mode"] as? String == "none")
    }
}
