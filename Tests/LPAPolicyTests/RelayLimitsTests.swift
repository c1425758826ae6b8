import Foundation
import Testing
@testable import LPAPolicy

/// `network: {max-connections, idle-timeout}`: parsed, merged, carried in the plan only
/// when not the default (plans without them read as before), shown by --dry-run, and
/// never dropped silently by an export.
@Suite struct RelayLimitsTests {
    @Test func defaultsStayOutOfThePlanJSON() throws {
        let plan = try Fixture.compile("", overrides: .init(publish: ["18080:8081"]))
        #expect(plan.network.maxConnections == 512 && plan.network.idleTimeoutMilliseconds == 300_000)
        let json = PlanFormatter.json(plan)
        #expect(!json.contains("maxConnections") && !json.contains("idleTimeoutMilliseconds"))
        #expect(PlanFormatter.text(plan).contains("at most 512 connections per port or endpoint; idle ones closed after 5m"))
    }

    @Test func valuesReachThePlanAndRoundTrip() throws {
        let plan = try Fixture.compile("network:\n  max-connections: 64\n  idle-timeout: 1500ms\n",
                                       overrides: .init(publish: ["18080:8081"]))
        #expect(plan.network.maxConnections == 64 && plan.network.idleTimeoutMilliseconds == 1500)
        let decoded = try JSONDecoder().decode(IsolationPlan.self, from: Data(PlanFormatter.json(plan).utf8))
        #expect(decoded.network == plan.network)
        #expect(PlanFormatter.text(plan).contains("at most 64 connections per port or endpoint; idle ones closed after 1500ms"))
        let never = try Fixture.compile("network:\n  idle-timeout: none\n", overrides: .init(publish: ["18080:8081"]))
        #expect(never.network.idleTimeoutMilliseconds == 0)
        #expect(PlanFormatter.text(never).contains("idle ones closed never"))
    }

    @Test(arguments: [("300", 300_000), ("300s", 300_000), ("5m", 300_000), ("2h", 7_200_000), ("1500ms", 1500),
                      ("0", 0), ("none", 0), ("7d", nil), ("", nil), ("-1s", nil), ("1.5s", nil), ("s", nil),
                      ("169h", nil), ("99999999999999999999", nil), ("5 m", nil)] as [(String, UInt64?)])
    func durations(_ text: String, _ milliseconds: UInt64?) {
        #expect(NodeReader.duration(text) == milliseconds, "\(text)")
    }

    @Test func badValuesAreErrorsNamingTheKey() {
        #expect(Fixture.messages("network:\n  max-connections: 0\n").contains { $0.contains("'max-connections' must be a number of connections from 1 to 16384") })
        #expect(Fixture.messages("network:\n  max-connections: 20000\n").contains { $0.contains("'max-connections'") })
        #expect(Fixture.messages("network:\n  max-connections: [1]\n").contains { $0.contains("'max-connections'") })
        #expect(Fixture.messages("network:\n  idle-timeout: soon\n").contains { $0.contains("'idle-timeout' must be a duration") })
    }

    @Test func aChildOverridesItsParent() throws {
        let parent = LoadedProfile(name: "parent", path: "/profiles/parent.yaml",
                                   text: "network:\n  max-connections: 10\n  idle-timeout: 10s\n")
        let child = LoadedProfile(name: "child", path: "/profiles/child.yaml",
                                  text: "extends: parent\nnetwork:\n  idle-timeout: 20s\n")
        let compiler = PolicyCompiler(loader: InMemoryProfileLoader(profiles: [parent, child]), context: Fixture.context)
        let plan = try compiler.compile(profile: "child", command: Fixture.command, overrides: .init()).plan
        #expect(plan.network.idleTimeoutMilliseconds == 20_000 && plan.network.maxConnections == 10)
    }

    @Test func everyExportSaysWhatBecomesOfTheLimits() throws {
        let plan = try Fixture.compile("network:\n  max-connections: 64\n", overrides: .init(publish: ["18080:8081"]))
        for target in [ExportTarget.oci, .kubernetes, .systemd] {
            let result = PlanExporter.export(plan, to: target)
            #expect(result.parity.contains { $0.setting == "relay limits" && $0.how.hasPrefix("max-connections 64, idle-timeout 5m: ") },
                    "\(target)")
        }
        let systemd = PlanExporter.export(plan, to: .systemd)
        #expect(systemd.files.contains { $0.contents.contains("--connections-max=64 127.0.0.1:8081") })
        // Nothing relayed: nothing to say.
        let none = try Fixture.compile("")
        #expect(!PlanExporter.export(none, to: .oci).parity.contains { $0.setting.hasPrefix("relay limits") })
    }
}
