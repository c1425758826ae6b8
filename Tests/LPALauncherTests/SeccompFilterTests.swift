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

    /// Record mode allows the unrecorded calls' remainder with the complement of their
    /// conditional denials (learn under connect-ports: sendmsg without MSG_FASTOPEN).
    @Test func complementOfConditionalDenials() throws {
        // The rule connect-ports adds (LandlockCompiler.fastOpenRules).
        let sendmsg = try #require(SeccompFilter.nativeNumber("sendmsg"))
        let fastOpen = SeccompRule(syscall: "sendmsg", number: sendmsg, action: .errno(name: "EPERM", number: EPERM),
                                   args: [ArgCondition(index: 2, op: .maskedEq, value: 0x2000_0000, mask: 0x2000_0000, width: 32)],
                                   reason: "connect-ports")
        let remainder = SeccompFilter.complement(of: [fastOpen])
        #expect(remainder == [ArgCondition(index: 2, op: .maskedEq, value: 0, mask: 0x2000_0000, width: 32)])
        #expect(SeccompFilter.negation(ArgCondition(index: 0, op: .lt, value: 3)) == ArgCondition(index: 0, op: .ge, value: 3))
        #expect(SeccompFilter.negation(ArgCondition(index: 0, op: .eq, value: 3, width: 32)) == nil)
        #expect(SeccompFilter.negation(ArgCondition(index: 0, op: .maskedEq, value: 1, mask: 3)) == nil)
        // Two denials on the same argument have no one-rule complement: refused, not guessed.
        let two = [fastOpen, SeccompRule(syscall: "sendmsg", number: fastOpen.number, action: fastOpen.action,
                                         args: [ArgCondition(index: 2, op: .eq, value: 7)], reason: "test")]
        #expect(SeccompFilter.complement(of: two) == nil)
        // And the record-mode filter of a connect-ports plan builds.
        var plan = try Self.plan("strict")
        plan.seccomp.rules.append(fastOpen)
        #expect(!(try SeccompFilter(plan: plan.seccomp, audit: plan.audit, record: true)).instructions.isEmpty)
    }
}
