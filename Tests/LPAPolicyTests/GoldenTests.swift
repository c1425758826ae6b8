import Foundation
import Testing
@testable import LPAPolicy

/// Each profile compiles, with fixed inputs, to the checked-in JSON in
/// Fixtures/golden. `LPA_UPDATE_GOLDENS=1` rewrites them (make goldens).
struct GoldenTests {
    static let builtins = ["strict", "agent", "gpu", "llama-server", "ollama", "vllm", "whisper-server", "agent-python", "python-server"]
    static let fixtures = ["server", "relaxed", "allowlist"]

    static func check(_ name: String, _ loader: any ProfileLoader, reference: String) throws {
        let compiler = PolicyCompiler(loader: loader, context: Fixture.context)
        let json = PlanFormatter.json(try compiler.compile(profile: reference, command: Fixture.command).plan)
        let url = Fixture.fixtures.appendingPathComponent("golden/\(name).json")
        let environment = ProcessInfo.processInfo.environment
        if environment["LPA_UPDATE_GOLDENS"] == "1" {
            // Rewriting asserts nothing: never under CI, where it would hide any change.
            #expect(environment["CI"] != "true", "LPA_UPDATE_GOLDENS=1 under CI: goldens were not checked")
            try json.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(json == expected, "plan for \(name) differs from \(url.path); run `make goldens` and review the diff")
    }

    @Test(arguments: builtins)
    func builtinProfileMatchesGolden(_ name: String) throws {
        try Self.check(name, InMemoryProfileLoader(), reference: name)
    }

    @Test(arguments: fixtures)
    func fixtureProfileMatchesGolden(_ name: String) throws {
        let profile = Fixture.fixtureProfile(name)
        try Self.check(name, InMemoryProfileLoader(profiles: [profile]), reference: profile.path)
    }

    @Test func goldenJSONDecodesBackToThePlan() throws {
        let compiler = PolicyCompiler(loader: InMemoryProfileLoader(), context: Fixture.context)
        let plan = try compiler.compile(profile: "strict", command: Fixture.command).plan
        let decoded = try JSONDecoder().decode(IsolationPlan.self, from: Data(PlanFormatter.json(plan).utf8))
        #expect(decoded == plan)
    }
}
