#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import LPAPolicy
import LPASandbox

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// The values of the run options, as RunOptionParser reads them.
struct RunOptions {
    var profile = "strict"
    var dryRun = false
    var format = OutputFormat.text
    var publish: [String] = []
    var connect: [String] = []
    var env: [String] = []
    var model: [String] = []
    var hostname: String?
    var allowNonLoopbackPublish = false
    var auditLog: String?
    var reportJSON: String?
    var verbose = false
    var quiet = false

    var overrides: CommandLineOverrides {
        CommandLineOverrides(publish: publish, connect: connect, env: env,
                             allowNonLoopbackPublish: allowNonLoopbackPublish, hostname: hostname,
                             models: model)
    }
}

/// The options of the default action, declared for swift-argument-parser so that
/// `--help` documents them; parsing itself is RunOptionParser's.
struct RunOptionHelp: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Profile name or file (a name is looked up in $XDG_CONFIG_HOME/lpa-run/profiles, "
            + "/etc/lpa-run/profiles, then the built-in profiles).", valueName: "NAME|FILE"))
    var profile: String = "strict"

    @Flag(name: .long, help: "Compile and print the isolation plan; create nothing, run nothing.")
    var dryRun = false

    @Option(name: .long, help: "Plan output for --dry-run: text (for people) or json (stable, see docs/plan.md).")
    var format: OutputFormat = .text

    @Option(name: [.customShort("p"), .customLong("publish")], help: ArgumentHelp(
        "Publish a sandbox port on the host (inbound only). HOST_IP defaults to 127.0.0.1.",
        valueName: "[HOST_IP:]HOST_PORT:SANDBOX_PORT"))
    var publish: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "Let the sandbox reach one host loopback endpoint at 127.0.0.1:PORT inside.",
        valueName: "HOST:PORT[:SANDBOX_PORT]"))
    var connect: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "Pass a host variable (even a secret-looking one) or set NAME=VALUE.", valueName: "NAME[=VALUE]"))
    var env: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "Bind a model file read-only into the sandbox at the same absolute path.", valueName: "FILE"))
    var model: [String] = []

    @Option(name: .long, help: "Hostname inside the sandbox.")
    var hostname: String?

    @Flag(name: .customLong("allow-non-loopback-publish"),
          help: "Allow -p with a non-loopback HOST_IP: this exposes the model to the network.")
    var allowNonLoopbackPublish = false

    @Option(name: .customLong("audit-log"), help: ArgumentHelp(
        "Append one JSON line per blocked action (denied syscalls, connections out): metadata only, never prompts.",
        valueName: "FILE"))
    var auditLog: String?

    @Option(name: .customLong("report-json"), help: ArgumentHelp(
        "Write the exit report (duration, status, blocked actions, connections) as JSON.", valueName: "FILE"))
    var reportJSON: String?

    @Flag(name: .shortAndLong, help: "Say more on stderr, including the exit report.")
    var verbose = false

    @Flag(name: .shortAndLong, help: "Say only errors on stderr.")
    var quiet = false
}

/// Runs `lpa-run [OPTIONS] [--] COMMAND [ARG...]` and returns the exit status.
enum RunCommand {
    static func main(_ arguments: [String]) -> Int32 {
        let split: ArgumentSplitter.Split
        let options: RunOptions
        do {
            split = try ArgumentSplitter.split(arguments)
            options = try RunOptionParser.parse(split.options)
        } catch .help {
            print(Help.text)
            return 0
        } catch {
            printError("lpa-run: error: \(error.message)\n\(Help.usageLine)")
            return ExitCode.ownError
        }
        if split.command.isEmpty && !options.dryRun {
            printError("lpa-run: error: no command given\n\(Help.usageLine)")
            return ExitCode.ownError
        }

        let context = HostFacts.context()
        var executable: String?
        if let name = split.command.first {
            switch ExecutableLookup.resolve(name, path: context.environment["PATH"], cwd: context.cwd) {
            case .found(let path):
                executable = path
            case .notExecutable(let path):
                if !options.dryRun {
                    printError("lpa-run: error: \(path): permission denied (not an executable file)")
                    return ExitCode.notExecutable
                }
                printError("lpa-run: warning: \(path) is not executable; the plan marks the command unresolved")
            case .notFound:
                if !options.dryRun {
                    printError("lpa-run: error: \(name): command not found")
                    return ExitCode.notFound
                }
                if !options.quiet {
                    printError("lpa-run: warning: \(name): command not found; the plan marks it unresolved")
                }
            }
        }

        var compiler = PolicyCompiler(loader: FileProfileLoader(environment: context.environment, cwd: context.cwd),
                                      context: context)
        compiler.computesDigest = options.dryRun
        let plan: IsolationPlan
        do {
            let compilation = try compiler.compile(profile: options.profile,
                                                   command: CommandPlan(argv: split.command, executable: executable),
                                                   overrides: options.overrides)
            plan = compilation.plan
            if !options.quiet {
                for warning in compilation.warnings { printError(warning.description) }
            }
        } catch {
            printError(error.description)
            return ExitCode.ownError
        }

        if options.dryRun {
            switch options.format {
            case .json: print(PlanFormatter.json(plan), terminator: "")
            case .text: print(PlanFormatter.text(plan), terminator: "")
            }
            return 0
        }
        do {
            let launcher = Launcher(plan: plan, options: LaunchOptions(
                quiet: options.quiet, verbose: options.verbose, auditLogPath: options.auditLog))
            let started = ExitReport.now()
            let result = try launcher.run()
            let status = result.exitStatus
            let report = ExitReport(duration: ExitReport.now() - started, status: status,
                                    audit: result.audit, relay: result.relay,
                                    tmpfsBytes: result.tmpfsBytesDiscarded)
            if !options.quiet && (options.verbose || report.audit.blocked > 0) { printError(report.text) }
            if let path = options.reportJSON, !report.write(json: path) {
                printError("lpa-run: warning: cannot write the report to \(path)")
            }
            return status
        } catch {
            printError(error.description)
            return error.exitCode
        }
    }
}

/// Exit codes as `env`, `timeout` and `docker run` use them.
enum ExitCode {
    static let ownError: Int32 = 125
    static let notExecutable: Int32 = 126
    static let notFound: Int32 = 127
}
