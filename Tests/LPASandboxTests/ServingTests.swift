import Foundation
import Testing

/// The real llama.cpp llama-server and tiny GGUF that `make llama` builds (never
/// downloaded), copied next to the test binaries so every runner can read them.
final class Llama: Sendable {
    static let shared = Llama()
    let server: String
    let model: String

    private init() {
        let env = ProcessInfo.processInfo.environment
        let cache = env["LPA_CACHE"] ?? ((env["XDG_CACHE_HOME"] ?? (env["HOME"] ?? "/root") + "/.cache") + "/lpa-run-dev")
        let builtServer = env["LPA_LLAMA_SERVER"] ?? cache + "/llama/bin/llama-server"
        let builtModel = env["LPA_TINY_MODEL"] ?? cache + "/llama/tiny.gguf"
        let fm = FileManager.default
        precondition(fm.isExecutableFile(atPath: builtServer) && fm.fileExists(atPath: builtModel),
                     "llama-server or the tiny model is missing: run `make llama` (see Makefile)")
        let dir = Binaries.shared.directory + "/llama"
        try? fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o755)
        server = dir + "/llama-server"
        model = dir + "/tiny.gguf"
        for (from, to, mode) in [(builtServer, server, 0o755), (builtModel, model, 0o644)] where !fm.fileExists(atPath: to) {
            try! fm.copyItem(atPath: from, toPath: to)
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

/// Published ports and host endpoints, end to end with a real llama-server.
@Suite("serving through lpa-run", .serialized)
struct ServingTests {
    @Test("llama-server in the strict sandbox answers health, completions and chat through -p, and persists nothing",
          arguments: Runner.all)
    func llamaServerEndToEnd(runner: Runner) throws {
        let llama = Llama.shared
        let port = LoopbackHTTP.freePort()
        let start = Date().addingTimeInterval(-1)
        let canary = "lpa-canary-\(UUID().uuidString)"
        let running = try RunningSandbox(runner: runner, arguments: [
            "--profile", "strict", "--model", llama.model, "-p", "127.0.0.1:\(port):8080",
            llama.server, "-m", llama.model, "--host", "127.0.0.1", "--port", "8080",
        ])
        #expect(LoopbackHTTP.waitUntilReady(port: port), "llama-server never became ready through the published port")
        let health = LoopbackHTTP.request(port: port, path: "/health")
        #expect(health?.status == 200)
        #expect(health?.body.contains("ok") == true)

        let completion = LoopbackHTTP.request(port: port, method: "POST", path: "/completion",
                                              body: #"{"prompt":"\#(canary)","n_predict":8,"temperature":0}"#)
        #expect(completion?.status == 200)
        #expect(completion?.body.contains("\"tokens_predicted\":") == true, "\(completion?.body ?? "")")

        let streamed = LoopbackHTTP.request(port: port, method: "POST", path: "/completion",
                                            body: #"{"prompt":"\#(canary)","n_predict":6,"stream":true,"temperature":0}"#)
        #expect(streamed?.status == 200)
        // One server-sent event per token, the last one marked stop (generation may end early).
        let events = (streamed?.body.components(separatedBy: "data: ").count ?? 1) - 1
        #expect(events >= 2, "expected server-sent events: \(streamed?.body ?? "")")
        #expect(streamed?.body.contains("\"stop\":true") == true)

        let chat = LoopbackHTTP.request(port: port, method: "POST", path: "/v1/chat/completions", body: """
            {"messages":[{"role":"user","content":"\(canary)"}],"max_tokens":8,"temperature":0}
            """)
        #expect(chat?.status == 200)
        #expect(chat?.body.contains("\"choices\"") == true)

        kill(running.pid, SIGTERM)
        let (status, _) = running.finish()
        #expect(status == 0, "llama-server exits cleanly on SIGTERM forwarded by lpa-run")

        let leaks = filesContaining(canary, under: [runner.home, "/tmp", "/var/tmp"], modifiedSince: start)
        #expect(leaks.isEmpty, "the prompt persisted on the host: \(leaks)")
    }

    @Test("the llama-server preset serves the tiny model end to end", arguments: Runner.all)
    func llamaServerPreset(runner: Runner) throws {
        let llama = Llama.shared
        let port = LoopbackHTTP.freePort()
        let running = try RunningSandbox(runner: runner, arguments: [
            "--profile", "llama-server", "--model", llama.model, "-p", "127.0.0.1:\(port):8080",
            llama.server, "-m", llama.model, "--port", "8080",
        ])
        #expect(LoopbackHTTP.waitUntilReady(port: port), "llama-server never became ready under the preset")
        let chat = LoopbackHTTP.request(port: port, method: "POST", path: "/v1/chat/completions",
                                        body: #"{"messages":[{"role":"user","content":"hello"}],"max_tokens":4,"temperature":0}"#)
        #expect(chat?.status == 200)
        #expect(chat?.body.contains("\"choices\"") == true)
        kill(running.pid, SIGTERM)
        let (status, _) = running.finish()
        #expect(status == 0)
    }

    @Test("with -p, the sandbox still cannot reach a listener on the host's loopback", arguments: Runner.all)
    func publishedSandboxHasNoEgress(runner: Runner) throws {
        let listener = try LoopbackListener()
        #expect(listener.canConnectFromHost())
        let port = LoopbackHTTP.freePort()
        let result = try runner.probe(["connect-tcp", "127.0.0.1", String(listener.port)],
                                      options: ["-p", "127.0.0.1:\(port):8080"])
        #expect(result.fields["connect-tcp"] == "ECONNREFUSED", "\(result.stdout)\(result.stderr)")
    }

    @Test("an agent reaches the host llama-server through --connect and no other host listener",
          arguments: Runner.all)
    func agentConnectsToHostServer(runner: Runner) throws {
        let llama = Llama.shared
        let serverPort = LoopbackHTTP.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: llama.server)
        server.arguments = ["-m", llama.model, "--host", "127.0.0.1", "--port", String(serverPort)]
        server.standardError = FileHandle.nullDevice
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        // SIGKILL: Foundation starts children with the test runner's blocked signals.
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        #expect(LoopbackHTTP.waitUntilReady(port: serverPort))
        let other = try LoopbackListener()
        #expect(other.canConnectFromHost())

        let agent = Bundle.agentScript
        let result = try runner.run([
            "--profile", "agent", "--connect", "127.0.0.1:\(serverPort):8080",
            "/usr/bin/python3", agent, "--port", "8080", "--try-port", String(other.port),
        ], cwd: (agent as NSString).deletingLastPathComponent)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("model answered:"))
        #expect(result.stdout.contains("port \(other.port) reachable: no"), "\(result.stdout)")
    }
}

extension Bundle {
    /// examples/agent.py, copied where every runner can read it (the agent profile
    /// binds the working directory read-write).
    static let agentScript: String = {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/agent.py").path
        let dir = Binaries.shared.directory + "/agent"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o777)
        let target = dir + "/agent.py"
        try? FileManager.default.removeItem(atPath: target)
        try! FileManager.default.copyItem(atPath: source, toPath: target)
        chmod(target, 0o644)
        return target
    }()
}

/// The relay itself: concurrency, half-close, descriptors, early connections, exit.
@Suite("relay", .serialized)
struct RelayTests {
    @Test("256 concurrent connections each echo their bytes back after a half-close", arguments: Runner.all)
    func concurrentHalfClosedConnections(runner: Runner) throws {
        let port = LoopbackHTTP.freePort()
        let running = try RunningSandbox(runner: runner, probe: ["echo-server", "9000"],
                                         options: ["-p", "127.0.0.1:\(port):9000"])
        defer { kill(running.pid, SIGTERM); _ = running.finish() }
        try running.waitForLine("listening")
        var sockets: [(Int32, [UInt8])] = []
        for i in 0..<256 {
            guard let fd = LoopbackHTTP.connect(port: port) else {
                Issue.record("connection \(i) failed")
                continue
            }
            let payload = Array("connection \(i) ".utf8) + [UInt8](repeating: UInt8(i & 0xff), count: 4096)
            sockets.append((fd, payload))
        }
        #expect(sockets.count == 256)
        for (fd, payload) in sockets {
            #expect(LoopbackHTTP.sendAll(fd, payload))
            shutdown(fd, Int32(SHUT_WR))
        }
        for (fd, payload) in sockets {
            let echoed = LoopbackHTTP.readAll(fd)
            #expect(echoed == payload)
            close(fd)
        }
    }

    @Test("no descriptor leaks after thousands of connections")
    func noDescriptorLeak() throws {
        let runner = Runner(who: .caller)
        let port = LoopbackHTTP.freePort()
        let running = try RunningSandbox(runner: runner, probe: ["echo-server", "9000"],
                                         options: ["-p", "127.0.0.1:\(port):9000"])
        defer { kill(running.pid, SIGTERM); _ = running.finish() }
        try running.waitForLine("listening")
        func openDescriptors() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(running.pid)/fd").count) ?? -1
        }
        func roundTrip() {
            guard let fd = LoopbackHTTP.connect(port: port) else { return }
            _ = LoopbackHTTP.sendAll(fd, Array("ping".utf8))
            shutdown(fd, Int32(SHUT_WR))
            _ = LoopbackHTTP.readAll(fd)
            close(fd)
        }
        roundTrip()
        usleep(100_000)
        let before = openDescriptors()
        for _ in 0..<2000 { roundTrip() }
        usleep(300_000)
        // lpa-run keeps a pool of up to two batches of sandbox sockets and a few spare
        // pipes for new connections (relay.c), so the count moves within that bound; a
        // leak of one descriptor per connection would show 2000 more.
        let after = openDescriptors()
        #expect(after <= before + 96, "lpa-run held \(before) descriptors before, \(after) after 2000 connections")
    }

    @Test("a connection that arrives before the server listens inside is closed at once, not hung")
    func earlyConnectionClosedCleanly() throws {
        let runner = Runner(who: .caller)
        let port = LoopbackHTTP.freePort()
        let running = try RunningSandbox(runner: runner, probe: ["wait-signal"], options: ["-p", "127.0.0.1:\(port):9000"])
        defer { kill(running.pid, SIGTERM); _ = running.finish() }
        try running.waitForLine("ready")
        let fd = try #require(LoopbackHTTP.connect(port: port))
        defer { close(fd) }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        let n = read(fd, &byte, 1)
        let err = errno
        #expect(n == 0 || (n < 0 && err == ECONNRESET), "read gave \(n), errno \(err): the client must see EOF at once")
    }

    @Test("when the workload exits, lpa-run exits with its status and the port closes")
    func workloadExitClosesListeners() throws {
        let runner = Runner(who: .caller)
        let port = LoopbackHTTP.freePort()
        let result = try runner.probe(["exit", "7"], options: ["-p", "127.0.0.1:\(port):9000"])
        #expect(result.status == 7)
        #expect(LoopbackHTTP.connect(port: port) == nil)
    }

    @Test("a non-loopback host address is refused without --allow-non-loopback-publish")
    func nonLoopbackPublishRefused() throws {
        let runner = Runner(who: .caller)
        let refused = try runner.run(["--dry-run", "-p", "0.0.0.0:18099:80", "/bin/true"])
        #expect(refused.status == 125)
        #expect(refused.stderr.contains("--allow-non-loopback-publish"), "\(refused.stderr)")
        let allowed = try runner.run(["--dry-run", "--allow-non-loopback-publish", "-p", "0.0.0.0:18099:80", "/bin/true"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
    }
}
