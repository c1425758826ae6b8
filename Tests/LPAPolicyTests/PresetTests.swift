import Foundation
import Testing
@testable import LPAPolicy

/// The presets for real servers: each compiles cleanly, keeps the sandbox's defaults,
/// and turns off what phones home.
struct PresetTests {
    static let presets = ["llama-server", "ollama", "vllm", "whisper-server", "agent-python", "python-server"]

    static func plan(_ name: String) throws -> IsolationPlan {
        try PolicyCompiler(loader: InMemoryProfileLoader(), context: Fixture.context)
            .compile(profile: name, command: Fixture.command).plan
    }

    static func value(_ plan: IsolationPlan, _ name: String) -> String? {
        plan.environment.set.first { $0.name == name }?.value
    }

    @Test(arguments: presets)
    func presetChecksClean(_ name: String) {
        let compiler = PolicyCompiler(loader: InMemoryProfileLoader(), context: Fixture.context)
        #expect(compiler.check(file: name).isEmpty)
    }

    @Test(arguments: presets)
    func presetKeepsTheStrictSandbox(_ name: String) throws {
        let plan = try Self.plan(name)
        #expect(plan.network.mode == .none)
        #expect(plan.namespaces.contains(.net))
        #expect(plan.capabilities.keep.isEmpty)
        #expect(plan.seccomp.rules.contains { $0.syscall == "io_uring_setup" })
        #expect(plan.profile.chain.contains { $0.name == "strict" })
        #expect(Self.value(plan, "OPENAI_API_KEY") == nil)
        #expect(Self.value(plan, "DO_NOT_TRACK") == "1")
    }

    @Test(arguments: presets)
    func presetHeaderSaysWhatItDoes(_ name: String) throws {
        let text = try #require(BuiltinProfiles.texts[name])
        for phrase in ["What it writes", "phone home", "What this preset does"] {
            #expect(text.contains(phrase), "\(name): header lacks '\(phrase)'")
        }
    }

    @Test func llamaServerIsOfflineOnLoopbackWithoutHostConfig() throws {
        let plan = try Self.plan("llama-server")
        #expect(Self.value(plan, "LLAMA_ARG_OFFLINE") == "1")
        #expect(Self.value(plan, "LLAMA_ARG_HOST") == "127.0.0.1")
        #expect(plan.mounts.contains { $0.kind == .hide && $0.target == "/etc/llama.cpp" })
    }

    @Test func ollamaHasNoCloudNoHistoryAndAReadOnlyStore() throws {
        let plan = try Self.plan("ollama")
        #expect(Self.value(plan, "OLLAMA_NO_CLOUD") == "1")
        #expect(Self.value(plan, "OLLAMA_NOHISTORY") == "1")
        #expect(Self.value(plan, "OLLAMA_HOST") == "127.0.0.1:11434")
        let store = try #require(plan.mounts.first { $0.target == "/home/user/.ollama/models" })
        #expect(store.isReadOnly && store.optional)
    }

    @Test func vllmHasNoUsageStatsAndALargerShm() throws {
        let plan = try Self.plan("vllm")
        #expect(Self.value(plan, "VLLM_NO_USAGE_STATS") == "1")
        #expect(Self.value(plan, "VLLM_DO_NOT_TRACK") == "1")
        #expect(Self.value(plan, "HF_HUB_OFFLINE") == "1")
        let shm = try #require(plan.mounts.first { $0.target == "/dev/shm" })
        #expect(shm.kind == .tmpfs && shm.options.size == 2 << 30)
        #expect(shm.origin?.file == "builtin:vllm")
        // Triton compiles into its cache and dlopens the result: the home tmpfs allows exec.
        let home = try #require(plan.mounts.first { $0.target == "/home/user" })
        #expect(!home.options.noExec)
    }

    @Test func agentPythonWritesOnlyTheProject() throws {
        let plan = try Self.plan("agent-python")
        #expect(plan.workingDirectory == "/home/user/project")
        #expect(plan.mounts.contains { $0.target == "/home/user/project" && !$0.isReadOnly })
        #expect(Self.value(plan, "AIDER_ANALYTICS") == "false")
    }

    @Test func dryRunTextSaysWhereEachSettingComesFrom() throws {
        let text = PlanFormatter.text(try Self.plan("llama-server"))
        #expect(text.contains("LLAMA_ARG_OFFLINE") && text.contains("[builtin:llama-server:"))
        #expect(text.contains("/usr") && text.contains("[builtin:strict:"))
    }

    @Test func pinsCompileIntoThePlan() throws {
        let digest = String(repeating: "ab", count: 32)
        let plan = try Fixture.compile("""
            extends: strict
            pins:
              executable: \(digest.uppercased())
              files:
                - {path: /opt/m.gguf, sha256: \(digest)}
              directories:
                - path: /opt/llama/lib
                  files: {libllama.so: \(digest), sub/libggml.so: \(digest)}
            """)
        #expect(plan.pins.executable?.sha256 == digest)
        #expect(plan.pins.files.map(\.path) == ["/opt/m.gguf"])
        #expect(plan.pins.directories.first?.files.map(\.path) == ["libllama.so", "sub/libggml.so"])
        #expect(plan.mounts.contains { $0.source == "/opt/m.gguf" && $0.isReadOnly })
        #expect(plan.mounts.contains { $0.source == "/opt/llama/lib" && $0.isReadOnly })
        #expect(plan.pins.executable?.origin == Origin(file: "p.yaml", line: 3))
    }

    @Test func badPinsAreErrorsWithPositions() {
        let errors = Fixture.errors("""
            pins:
              executable: 1234
              directories:
                - {path: /opt/x, files: {../escape: \(String(repeating: "0", count: 64))}}
            """)
        #expect(errors.map(\.line) == [2, 4])
        #expect(errors.first?.message.contains("bad sha256") == true)
    }
}
