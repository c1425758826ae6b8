import Foundation
import Testing
@testable import LPAPolicy

/// `network: dns`: the sink is the default wherever the sandbox has no outside network,
/// is a plan entry (`--dry-run` shows the resolv.conf it writes), and is refused where it
/// cannot work.
@Suite("DNS sink in the plan")
struct DNSSinkPlanTests {
    func plan(_ text: String) throws(CompileFailure) -> IsolationPlan {
        try Fixture.compiler(["p.yaml": text]).compile(profile: "p.yaml", command: Fixture.command).plan
    }

    @Test("strict has the sink: the last mount writes /etc/resolv.conf pointing to 127.0.0.1, and dry-run says so")
    func strictHasTheSink() throws {
        let plan = try plan("extends: strict\n")
        #expect(plan.network.dns == .sink)
        let last = try #require(plan.mounts.last)
        #expect(last.kind == .file && last.target == "/etc/resolv.conf" && last.options.readOnly)
        #expect(last.source == "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        #expect(last.origin?.file == Origin.automatic)
        let text = PlanFormatter.text(plan)
        #expect(text.contains("dns             sink: 127.0.0.1:53 inside"), "\(text)")
        #expect(text.contains("file    /etc/resolv.conf"), "\(text)")
    }

    @Test("dns: host keeps the host's resolv.conf; mode host has no sink; the profile line is the origin")
    func offAndHost() throws {
        let off = try plan("extends: strict\nnetwork:\n  dns: host\n")
        #expect(off.network.dns == .host && !off.mounts.contains { $0.kind == .file })
        let host = try plan("extends: strict\nnetwork:\n  mode: host\n")
        #expect(host.network.dns == .host && !host.mounts.contains { $0.kind == .file })
        let explicit = try plan("extends: strict\nnetwork:\n  dns: sink\n")
        #expect(explicit.mounts.last?.origin == Origin(file: "p.yaml", line: 3))
    }

    @Test("dns: sink with mode host, and an unknown value, are errors at their line")
    func refused() throws {
        for text in ["extends: strict\nnetwork:\n  mode: host\n  dns: sink\n", "extends: strict\nnetwork:\n  dns: forward\n"] {
            do throws(CompileFailure) {
                _ = try plan(text) as IsolationPlan
                Issue.record("compiled: \(text)")
            } catch {
                let diagnostics: [Diagnostic] = error.diagnostics
                let positioned = diagnostics.contains { (d: Diagnostic) -> Bool in d.file == "p.yaml" && d.line >= 3 }
                #expect(positioned, "\(diagnostics.map(\.description))")
            }
        }
    }

    @Test("explain names the sink under phoning home")
    func explainMentionsIt() throws {
        let compilation = try Fixture.compiler(["p.yaml": "extends: strict\n"])
            .compile(profile: "p.yaml", command: Fixture.command)
        let risks = CoverageExplainer(plan: compilation.plan, origins: compilation.origins, home: "/home/user").explain()
        let phoneHome = try #require(risks.first { $0.risk == .phoneHome })
        #expect(phoneHome.answeredBy.contains { $0.text.contains("DNS sink on 127.0.0.1:53") })
    }
}
