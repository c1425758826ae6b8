import ArgumentParser
import LPAPolicy

/// `lpa-run check FILE...`: validate profiles like `nginx -t`.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate profile files: every problem is printed as file:line:col; exit 0 when all are valid, 1 otherwise.")

    @Argument(help: "Profile files to check (and the profiles they extend).")
    var files: [String]

    func exitStatus() -> Int32 {
        let context = HostFacts.context()
        let compiler = PolicyCompiler(loader: FileProfileLoader(environment: context.environment, cwd: context.cwd),
                                      context: context)
        var failed = false
        for file in files {
            let diagnostics = compiler.check(file: file)
            for d in diagnostics { printError(d.description) }
            let errors = diagnostics.filter { $0.severity == .error }.count
            if errors == 0 {
                print("\(file): ok")
            } else {
                failed = true
                printError("\(file): \(errors) error\(errors == 1 ? "" : "s")")
            }
        }
        return failed ? 1 : 0
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
