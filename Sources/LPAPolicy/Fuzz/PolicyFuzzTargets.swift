/// The compiler's parsers of hostile bytes, as the fuzzer (`make fuzz`,
/// Sources/lpa-fuzz) and the corpus replay test call them. Each takes any bytes and
/// must return: a plan or diagnostics, a value or an error, never a crash, a hang or an
/// unbounded allocation. Each also checks a property of its result that must hold for
/// every input, and stops the process (a finding) when it does not.
public enum PolicyFuzzTargets {
    /// The profile the fuzzer writes, and the two it may extend. An input holds up to
    /// three profiles separated by lines of `#---`: `a.yaml` (compiled), `b.yaml` and
    /// `c.yaml`, so `extends` chains and cycles through files are reachable, besides
    /// the built-ins.
    static let names = ["a.yaml", "b.yaml", "c.yaml"]

    /// Fixed host facts: the result depends on the bytes only.
    static let context = HostContext(
        environment: ["HOME": "/home/user", "USER": "user", "PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": "/home/user/.cache"],
        cwd: "/home/user/project", uid: 1000, gid: 1000)

    /// Bytes → profiles → plan or diagnostics. Invalid UTF-8 is decoded as the file
    /// loader decodes it (U+FFFD), so the fuzzer sees what `lpa-run` would.
    public static func profile(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.split(separator: "\n#---\n", maxSplits: 2, omittingEmptySubsequences: false)
        let profiles = zip(names, parts).map { LoadedProfile(name: String($0.0.dropLast(5)), path: $0.0, text: String($0.1)) }
        let compiler = PolicyCompiler(loader: InMemoryProfileLoader(profiles: profiles), context: context)
        let command = CommandPlan(argv: ["/usr/bin/server", "--port", "8080"], executable: "/usr/bin/server")
        do {
            let compilation = try compiler.compile(profile: "a.yaml", command: command)
            // The plan a dry-run prints must read back as the plan that runs.
            let json = PlanFormatter.json(compilation.plan)
            guard let decoded = PlanFormatter.decode(json), decoded == compilation.plan else {
                fatalError("plan JSON does not round-trip:\n\(json)")
            }
            _ = PlanFormatter.text(compilation.plan)
            _ = CoverageExplainer(plan: compilation.plan, origins: compilation.origins, home: "/home/user").explain()
        } catch {
            guard !error.diagnostics.isEmpty else { fatalError("a failed compilation without a diagnostic") }
            for diagnostic in error.diagnostics { check(diagnostic.description) }
        }
        for diagnostic in compiler.check(file: "a.yaml") { check(diagnostic.description) }
    }

    /// `--publish` and `--connect` values, TCP and `unix:`.
    public static func endpoint(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? EndpointParser.publishSpec(text)
        _ = try? EndpointParser.connectSpec(text)
        if let port = try? EndpointParser.publish(text) {
            let again = try? EndpointParser.publish(canonical(port.hostAddress) + ":\(port.hostPort):\(port.sandboxPort)")
            guard again == port else { fatalError("publish '\(text)' does not round-trip") }
        }
        if let endpoint = try? EndpointParser.connect(text) {
            let again = try? EndpointParser.connect(canonical(endpoint.hostAddress) + ":\(endpoint.hostPort):\(endpoint.sandboxPort)")
            guard again == endpoint else { fatalError("connect '\(text)' does not round-trip") }
        }
    }

    /// Sizes (`tmpfs-size`, rlimits): what the text plan prints reads back as the same number.
    public static func size(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let value = try? SizeParser.parse(text) else { return }
        guard (try? SizeParser.parse(SizeParser.format(value))) == value else {
            fatalError("size '\(text)' = \(value) does not round-trip through '\(SizeParser.format(value))'")
        }
    }

    private static func canonical(_ address: IPAddress) -> String {
        address.isIPv6 ? "[\(address)]" : "\(address)"
    }

    /// Diagnostics go to a terminal: no control character may pass, and a quoted source
    /// line stays short whatever the profile's line length.
    private static func check(_ description: String) {
        for line in description.split(separator: "\n") where line.count > 2 * Diagnostic.quotedWidth + 400 {
            fatalError("a diagnostic line of \(line.count) characters")
        }
        for scalar in description.unicodeScalars
        where (scalar.value < 0x20 && scalar != "\n" && scalar != "\t") || (0x7f...0x9f).contains(scalar.value) {
            fatalError("a diagnostic carries control character \(scalar.value): \(description)")
        }
    }
}
