import Foundation
@testable import LPAPolicy

/// Fixed inputs so goldens do not depend on the machine running the tests.
enum Fixture {
    static let context = HostContext(
        environment: [
            "HOME": "/home/user", "USER": "user", "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "xterm-256color",
            "OPENAI_API_KEY": "sk-test-not-a-real-key", "SSH_AUTH_SOCK": "/run/user/1000/ssh",
            "EDITOR": "vim", "http_proxy": "http://user:pw@proxy:3128",
        ],
        cwd: "/home/user/project", uid: 1000, gid: 1000)

    static let command = CommandPlan(argv: ["llama-server", "-m", "/models/m.gguf", "--port", "8080"],
                                     executable: "/opt/llama/bin/llama-server")

    /// The source tree's Tests/LPAPolicyTests directory (goldens are rewritten there).
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repositoryRoot = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = testsDirectory.appendingPathComponent("Fixtures")

    static func fixtureProfile(_ name: String) -> LoadedProfile {
        let url = fixtures.appendingPathComponent("profiles/\(name).yaml")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return LoadedProfile(name: name, path: "fixtures/\(name).yaml", text: text)
    }

    /// A compiler over in-memory profiles named by their display path ("p.yaml").
    static func compiler(_ profiles: [String: String] = [:], context: HostContext = context) -> PolicyCompiler {
        let loaded = profiles.map { LoadedProfile(name: ProfileReference.name(ofPath: $0.key), path: $0.key, text: $0.value) }
        return PolicyCompiler(loader: InMemoryProfileLoader(profiles: loaded), context: context)
    }

    static func compile(_ text: String, overrides: CommandLineOverrides = .init(),
                        command: CommandPlan = command) throws(CompileFailure) -> IsolationPlan {
        try compiler(["p.yaml": text]).compile(profile: "p.yaml", command: command, overrides: overrides).plan
    }

    /// The diagnostics of a failing profile (empty if it compiled).
    static func errors(_ text: String, overrides: CommandLineOverrides = .init()) -> [Diagnostic] {
        do {
            _ = try compiler(["p.yaml": text]).compile(profile: "p.yaml", command: command, overrides: overrides)
            return []
        } catch {
            return error.diagnostics
        }
    }

    static func messages(_ text: String, overrides: CommandLineOverrides = .init()) -> [String] {
        errors(text, overrides: overrides).map(\.message)
    }
}
