#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import LPAPolicy
import LPASandbox

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
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
            return LPAExitCode.ownError
        }
        if split.command.isEmpty && !options.dryRun {
            printError("lpa-run: error: no command given\n\(Help.usageLine)")
            return LPAExitCode.ownError
        }

        // A run that a launch record could repeat notes every host path it consults.
        let recordable = !options.dryRun && !options.verbose && options.auditLog == nil && options.reportJSON == nil
        if recordable { HostReads.active = HostReads() }
        defer { HostReads.active = nil }
        let context = HostFacts.context(remembering: !options.dryRun)
        let plan: IsolationPlan
        switch compilePlan(command: split.command, options: options, context: context, planOnly: options.dryRun,
                            commandPosition: split.commandPosition) {
        case .success(let compiled): plan = compiled
        case .failure(let failure): return failure.status
        }

        if options.dryRun {
            switch options.format {
            case .json: print(PlanFormatter.json(plan), terminator: "")
            case .text: print(PlanFormatter.text(plan), terminator: "")
            }
            return 0
        }
        // The log and the report are opened before anything starts: a planted link, FIFO
        // or existing report, or a path the sandbox can write, stops the run (125).
        var reportFile: HostOutputFile?
        do {
            let auditLog = try options.auditLog.map { path throws(LaunchError) in
                try HostOutputFile.open(path, option: "--audit-log", mode: .append, plan: plan, cwd: context.cwd)
            }
            reportFile = try options.reportJSON.map { path throws(LaunchError) in
                try HostOutputFile.open(path, option: "--report-json", mode: .createNew, plan: plan, cwd: context.cwd)
            }
            let launcher = Launcher(plan: plan, options: LaunchOptions(
                quiet: options.quiet, verbose: options.verbose, auditLog: auditLog,
                launchRecord: HostReads.active.map { LaunchRecord.Request(reads: $0, quiet: options.quiet) }))
            let started = ExitReport.now()
            let result = try launcher.run()
            let status = result.exitStatus
            let report = ExitReport(duration: ExitReport.now() - started, status: status,
                                    audit: result.audit, relay: result.relay,
                                    tmpfsBytes: result.tmpfsBytesDiscarded, dns: result.dns)
            if !options.quiet && (options.verbose || report.hasNews) { printError(report.text) }
            if let reportFile, !reportFile.write(Array(report.json.utf8)) {
                printError("lpa-run: warning: cannot write the report to \(reportFile.path)")
            }
            return status
        } catch {
            // Nothing ran to report on: leave no empty report behind.
            reportFile?.removeCreated()
            printError(error.description)
            return error.exitCode
        }
    }

    /// Ends a run launched from its launch record (by the front, reported through
    /// `LaunchRecord.fromFront`) as a compiled run ends: the same exit report, messages
    /// and statuses.
    static func finish(_ outcome: LaunchRecord.FastOutcome, started: Double) -> Int32 {
        switch outcome {
        case .ran(let result, let quiet):
            let report = ExitReport(duration: ExitReport.now() - started, status: result.exitStatus,
                                    audit: result.audit, relay: result.relay,
                                    tmpfsBytes: result.tmpfsBytesDiscarded, dns: result.dns)
            if !quiet && report.hasNews { printError(report.text) }
            return result.exitStatus
        case .interrupted(let signal):
            let error = Launcher.interrupted(by: signal)
            printError(error.description)
            return error.exitCode
        case .failed(let error):
            printError(error.description)
            return error.exitCode
        }
    }

    /// Why `compilePlan` gave no plan: it has printed the reason; exit with `status`.
    struct PlanFailure: Error {
        let status: Int32
    }

    /// Resolves COMMAND and compiles the plan exactly as a run does; shared by run,
    /// `--dry-run` and `lpa-run export`, so all three see the same plan. `planOnly`
    /// (nothing will run) tolerates an unresolved command and computes the digest.
    static func compilePlan(command: [String], options: RunOptions, context: HostContext,
                            planOnly: Bool, commandPosition: Int = 0) -> Result<IsolationPlan, PlanFailure> {
        var executable: String?
        if let name = command.first {
            switch ExecutableLookup.resolve(name, path: context.environment["PATH"], cwd: context.cwd) {
            case .found(let path):
                executable = path
            case .notExecutable(let path):
                if !planOnly {
                    printError("lpa-run: error: \(path): permission denied (not an executable file)")
                    return .failure(PlanFailure(status: LPAExitCode.notExecutable))
                }
                printError("lpa-run: warning: \(path) is not executable; the plan marks the command unresolved")
            case .notFound:
                if !planOnly {
                    printError("lpa-run: error: \(name): command not found")
                    return .failure(PlanFailure(status: LPAExitCode.notFound))
                }
                if !options.quiet {
                    printError("lpa-run: warning: \(name): command not found; the plan marks it unresolved")
                }
            }
        }

        var overrides = options.overrides
        // Where COMMAND starts in lpa-run's argv: warnings about its arguments name positions.
        overrides.commandPosition = commandPosition
        let loader = FileProfileLoader(environment: context.environment, cwd: context.cwd,
                                       observe: { HostReads.note($0, .contents) })
        var compiler = PolicyCompiler(loader: loader,
                                      context: context)
        compiler.computesDigest = planOnly
        do {
            let compilation = try compiler.compile(profile: options.profile,
                                                   command: CommandPlan(argv: command, executable: executable),
                                                   overrides: overrides)
            if !options.quiet {
                for warning in compilation.warnings { printError(warning.description) }
            }
            // A launch from a record compiles nothing, so it could not repeat them.
            if !compilation.warnings.isEmpty { HostReads.spoil("the compile warned") }
            return .success(compilation.plan)
        } catch {
            printError(error.description)
            return .failure(PlanFailure(status: LPAExitCode.ownError))
        }
    }
}
