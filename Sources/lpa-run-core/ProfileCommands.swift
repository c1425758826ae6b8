import ArgumentParser
import LPAPolicy
import LPASandbox

/// `lpa-run check FILE...`: validate profiles like `nginx -t`.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate profile files: every problem is printed as file:line:col; exit 0 when all are valid, 1 otherwise.")

    @Option(name: .long, help: "text (file:line:col lines on stderr) or json (one object on stdout, for CI and editors).")
    var format: OutputFormat = .text

    @Argument(help: "Profile files to check (and the profiles they extend).")
    var files: [String]

    func exitStatus() -> Int32 {
        let context = HostFacts.context()
        let compiler = PolicyCompiler(loader: FileProfileLoader(environment: context.environment, cwd: context.cwd),
                                      context: context)
        var failed = false
        var results: [(file: String, diagnostics: [Diagnostic])] = []
        for file in files {
            let diagnostics = compiler.check(file: file)
            let errors = diagnostics.filter { $0.severity == .error }.count
            if errors > 0 { failed = true }
            if format == .json {
                results.append((file, diagnostics))
                continue
            }
            for d in diagnostics { printError(d.description) }
            if errors == 0 {
                print("\(file): ok")
            } else {
                printError("\(file): \(errors) error\(errors == 1 ? "" : "s")")
            }
        }
        if format == .json { print(Self.json(results)) }
        return failed ? 1 : 0
    }

    /// `{"files": [{file, valid, errors, warnings}], "diagnostics": [{checked, file, line,
    /// column, severity, message, suggestion, sourceLine}]}`. `file` is where the problem
    /// is (an extended profile, or an option such as --profile with line 0), `checked`
    /// the argument it was found through. `suggestion` is the known fix: the hint, else
    /// the closest known word of a "did you mean".
    static func json(_ results: [(file: String, diagnostics: [Diagnostic])]) -> String {
        func string(_ text: String?) -> String { text.map(JSONString.literal) ?? "null" }
        var files: [String] = []
        var diagnostics: [String] = []
        for (file, found) in results {
            let errors = found.filter { $0.severity == .error }.count
            files.append("    {\"file\": \(string(file)), \"valid\": \(errors == 0), "
                         + "\"errors\": \(errors), \"warnings\": \(found.count - errors)}")
            for d in found {
                diagnostics.append("    {\"checked\": \(string(file)), \"file\": \(string(d.file)), \"line\": \(d.line), "
                                   + "\"column\": \(d.column), \"severity\": \"\(d.severity.rawValue)\", "
                                   + "\"message\": \(string(d.message)), \"suggestion\": \(string(suggestion(d))), "
                                   + "\"sourceLine\": \(string(d.sourceLine))}")
            }
        }
        func list(_ items: [String]) -> String { items.isEmpty ? "[]" : "[\n" + items.joined(separator: ",\n") + "\n  ]" }
        return "{\n  \"files\": \(list(files)),\n  \"diagnostics\": \(list(diagnostics))\n}"
    }

    private static func suggestion(_ d: Diagnostic) -> String? {
        if let hint = d.hint { return hint }
        guard let start = d.message.firstRange(of: "(did you mean '"),
              let end = d.message[start.upperBound...].firstRange(of: "'?)") else { return nil }
        return String(d.message[start.upperBound..<end.lowerBound])
    }
}

/// `lpa-run profiles`: what --profile NAME can find, and from where.
struct ProfilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profiles",
        abstract: "List the profiles --profile can find, with their descriptions and where each comes from.")

    func exitStatus() -> Int32 {
        let context = HostFacts.context()
        let listings = FileProfileLoader(environment: context.environment, cwd: context.cwd).available()
        let width = listings.map(\.name.count).max() ?? 0
        for listing in listings {
            let pad = String(repeating: " ", count: width - listing.name.count)
            print("\(listing.name)\(pad)  \(listing.description)  [\(listing.source)]")
        }
        return 0
    }
}
