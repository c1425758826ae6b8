import ArgumentParser
import LPAPolicy

/// `lpa-run explain`: which risk of the threat model (docs/THREATS.md) each setting of
/// a profile answers, and what stays open, with the lines responsible.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show which risks a profile answers, with the lines that answer them, and what stays open.",
        discussion: """
            For each risk of the threat model (docs/THREATS.md) — prompts persisting on the host, \
            phoning home, tampered files, reading your files and keys, kernel attack surface, \
            terminal injection, other processes, exposing the model — the settings that answer it \
            ([file:line] as --dry-run shows), the gaps the profile leaves (with the line that \
            opened each and its fix), and what no sandbox can answer. Nothing is run. \
            Exit 0; with --fail-on-open, 1 when a risk is open; \(LPAExitCode.ownError) when the profile does not compile.
            """)

    @Option(name: .long, help: ArgumentHelp("Profile to explain.", valueName: "NAME|FILE"))
    var profile: String = "strict"

    @Option(name: .long, help: "text (for people) or json ({profile, chain, risks: [{risk, title, verdict, answeredBy, gaps, residual}]}).")
    var format: OutputFormat = .text

    @Flag(name: .long, help: "Exit 1 when the profile leaves a risk open (for CI).")
    var failOnOpen = false

    func exitStatus() -> Int32 {
        let context = HostFacts.context()
        let compiler = PolicyCompiler(loader: FileProfileLoader(environment: context.environment, cwd: context.cwd),
                                      context: context)
        let compilation: Compilation
        do {
            compilation = try compiler.compile(profile: profile, command: CommandPlan(argv: [], executable: nil))
        } catch {
            printError(error.description)
            return LPAExitCode.ownError
        }
        let risks = CoverageExplainer(plan: compilation.plan, origins: compilation.origins,
                                      home: context.environment["HOME"] ?? "/").explain()
        let report = CoverageFormatter.report(compilation.plan, risks)
        print(format == .json ? CoverageFormatter.json(report) : CoverageFormatter.text(report), terminator: "")
        return failOnOpen && risks.contains { $0.verdict == .open } ? 1 : 0
    }
}
