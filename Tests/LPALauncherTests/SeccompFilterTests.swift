import Foundation
import Testing
import LPAPolicy
@testable import LPASandbox

/// The real plan → libseccomp → BPF translation (`SeccompFilter`, the code the launcher
/// runs) accepts every rule of every built-in profile, preset and test fixture, with the
/// audit notifications the plan lists. Nothing is loaded; the sandbox tests prove the
/// loaded filter (EscapeClassTests).
struct SeccompFilterTests {
    static let context = HostContext(environment: ["HOME": "/home/user", "PATH": "/usr/bin:/bin"],
                                     cwd: "/home/user/project", uid: 1000, gid: 1000)
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("LPAPolicyTests/Fixtures/profiles")

    static let profiles = ["strict", "agent", "gpu", "llama-server", "ollama", "vllm", "whisper-server", "agent-python",
                           "fixtures/server.yaml", "fixtures/relaxed.yaml", "fixtures/allowlist.yaml"]

    static func plan(_ reference: String) throws -> IsolationPlan {
        let loaded = try ["server", "relaxed", "allowlist"].map { name in
            LoadedProfile(name: name, path: "fixtures/\(name).yaml",
                          text: try String(contentsOf: fixtures.appendingPathComponent("\(name).yaml"), encoding: .utf8))
        }
        return try PolicyCompiler(loader: InMemoryProfileLoader(profiles: loaded), context: context)
            .compile(profile: reference, command: CommandPlan(argv: ["/bin/true"], executable: "/bin/true")).plan
    }

    @Test(arguments: profiles)
    func everyRuleBecomesBPF(_ reference: String) throws {
        let plan = try Self.plan(reference)
        let filter = try SeccompFilter(plan: plan.seccomp, audit: plan.audit)
        #expect(!filter.instructions.isEmpty)
        // Every call the plan says is audited is handed to the supervisor, and only those.
        #expect(filter.auditRules.map(\.number) == plan.audit.calls.map(\.number))
    }

    @Test func auditedDenialsKeepThePlansErrno() throws {
        let plan = try Self.plan("strict")
        let filter = try SeccompFilter(plan: plan.seccomp, audit: plan.audit)
        let mount = try #require(filter.auditRules.first { $0.syscall == "mount" })
        #expect(mount.kind == .deny && mount.errno == EPERM)
        let connect = try #require(filter.auditRules.first { $0.syscall == "connect" })
        #expect(connect.kind == .egress && connect.errno == ENETUNREACH)
    }
}
