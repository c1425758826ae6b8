#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import LPAPolicy
import LPASandbox

// A command line run before, unchanged, is launched from its launch record before any
// other work (CLaunch record.c); nil: nothing ran, go on as usual.
let fastStart = ExitReport.now()
if let outcome = LaunchRecord.fastPath() {
    // Nothing is buffered (lpa-run writes to stderr unbuffered and never to stdout on a
    // run): leave without exit handlers.
    _exit(RunCommand.finish(outcome, started: fastStart))
}

// Subcommands are dispatched by their first word; anything else is a command to run,
// so the run path never pays for subcommand parsing (start-up is benchmarked).
let arguments = Array(CommandLine.arguments.dropFirst())

func runSubcommand<C: ParsableCommand>(_ type: C.Type, _ rest: [String], _ body: (C) -> Int32) -> Int32 {
    do {
        return body(try type.parse(rest))
    } catch {
        let code = type.exitCode(for: error)
        if code == .success {
            print(type.helpMessage())
            return 0
        }
        printError("lpa-run \(type.configuration.commandName ?? ""): error: \(type.message(for: error))")
        return LPAExitCode.ownError
    }
}

let status: Int32
switch arguments.first {
case "check": status = runSubcommand(CheckCommand.self, Array(arguments.dropFirst())) { $0.exitStatus() }
case "profiles": status = runSubcommand(ProfilesCommand.self, Array(arguments.dropFirst())) { $0.exitStatus() }
case "hash": status = runSubcommand(HashCommand.self, Array(arguments.dropFirst())) { $0.exitStatus() }
case "probe": status = runSubcommand(ProbeCommand.self, Array(arguments.dropFirst())) { $0.exitStatus() }
case "explain": status = runSubcommand(ExplainCommand.self, Array(arguments.dropFirst())) { $0.exitStatus() }
case "doctor": status = runSubcommand(DoctorCommand.self, Array(arguments.dropFirst())) { $0.exitStatus() }
case "export": status = ExportCommand.main(Array(arguments.dropFirst()))
case "learn": status = LearnCommand.main(Array(arguments.dropFirst()))
case "schema": status = runSubcommand(SchemaCommand.self, Array(arguments.dropFirst())) { $0.exitStatus() }
case "completions": status = runSubcommand(CompletionsCommand.self, Array(arguments.dropFirst())) { $0.exitStatus() }
case "man": status = runSubcommand(ManCommand.self, Array(arguments.dropFirst())) { $0.exitStatus() }
case "help": print(Help.text); status = 0
case "--version": print("lpa-run 0.1.0"); status = 0
default: status = RunCommand.main(arguments)
}
exit(status)
