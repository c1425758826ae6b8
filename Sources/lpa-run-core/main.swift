#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import CLaunch
import LPAPolicy
import LPASandbox

// The front (`lpa-run`, Sources/lpa-run/main.c) launched from a launch record and has
// something to report: it streams what happened on standard input and this process words
// the exit report as after a compiled run, then exits with the run's status.
// Only for the front: standard input must be a stream socket whose other end is this
// process's parent, and the parent the front (a wrapper passing an untrusted word as a
// command, over a socket pair of its own, must not get a made-up report instead of a run).
if CommandLine.argc == 2, let word = CommandLine.unsafeArgv[1], String(cString: word) == LPA_REPORTER_ARGUMENT {
    guard LaunchRecord.startedByFront() else {
        printError("lpa-run: error: \(LPA_REPORTER_ARGUMENT) is lpa-run's own (its reporter's); it is not an option")
        _exit(LPAExitCode.ownError)
    }
    guard let (outcome, started) = LaunchRecord.fromFront(fd: 0) else { _exit(0) }
    _exit(RunCommand.finish(outcome, started: started))
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
