#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy
import LPASandbox

/// `lpa-run learn [RUN OPTIONS] [-o FILE] [--force] [--] COMMAND`: runs COMMAND under the
/// base profile in record mode (every syscall the filter allows is noted by the audit
/// supervisor, then continued) until it exits or lpa-run is stopped with SIGINT/SIGTERM
/// (forwarded, as a run forwards them), then writes a profile that extends the base and
/// allows only the syscalls the run made (LearnedProfile).
enum LearnCommand {
    static let usageLine = "Usage: lpa-run learn [OPTIONS] [-o FILE] [--force] [--] COMMAND [ARG...]"

    static var help: String {
        """
        lpa-run learn: run a command under a profile and write a tighter one from what it did.

        USAGE:
          lpa-run learn [OPTIONS] [-o FILE] [--force] [--] COMMAND [ARG...]

        COMMAND runs as `lpa-run [OPTIONS] COMMAND` would run it (same profile, -p, --model,
        --connect, ...), with every syscall the profile allows recorded, until it exits or
        you stop it with Ctrl-C (SIGINT) or SIGTERM: lpa-run forwards the signal, waits for
        the command to exit, then writes the learned profile. Exercise everything the
        program must do while it learns (load the model, answer a request, stream one):
        a path it did not take is denied later.

        The learned profile `extends` the base (--profile, default strict) and adds a
        default-deny syscall allowlist of exactly the calls the run made; everything the
        base denies stays denied (its escape-class groups, clone flags, ioctl requests,
        socket families), and comments list what was refused while learning: syscalls,
        connection attempts, DNS names. Check it with `lpa-run check FILE`, try it with
        `lpa-run probe --profile FILE`, run with `lpa-run --profile FILE COMMAND`.

        With -o FILE the profile is written once COMMAND has exited (nothing is created
        beside FILE while it runs). Without -o the profile goes to standard output and the
        command's standard output goes to standard error, so `lpa-run learn -- CMD > FILE`
        holds the profile alone. FILE must not be the base profile or a file it extends.

        Recording costs one round trip to lpa-run per allowed syscall while learning
        (seccomp user notification); runs under the learned profile pay nothing extra.

        LEARN OPTIONS:
        \(optionLines)
          --format <format>       The summary on stderr as text (default) or json.

        \(Help.options)
        EXAMPLES:
          lpa-run learn -o llama.yaml --model m.gguf -p 8080:8080 llama-server -m m.gguf --port 8080
              (query it, then Ctrl-C)
          lpa-run learn --profile python-server -o agent.yaml -- python3 agent.py
          lpa-run --profile ./llama.yaml --model m.gguf -p 8080:8080 llama-server -m m.gguf --port 8080

        EXIT STATUS:
          0 written (COMMAND exited 0, or was stopped with SIGINT or SIGTERM); COMMAND's own
          status when it failed otherwise (the profile is still written: read it before use);
          \(LPAExitCode.ownError) bad options, a profile that does not compile, FILE exists or cannot be written.
        """
    }

    /// The options learn adds to the run options: its --help, completions and the man
    /// page (CommandLineModel) all read them from here.
    static let learnOptions: [CommandLineModel.Option] = [
        .init(names: ["-o", "--output"], valueName: "FILE",
              help: "Write the profile to FILE (atomically, once COMMAND has exited; refused if FILE exists). "
                  + "Default: stdout, and without -o the command's standard output goes to standard error.",
              value: .files),
        .init(names: ["--force"], valueName: nil, help: "Replace an existing FILE.", value: .none),
    ]

    static var optionLines: String {
        learnOptions.map { option in
            var head = "  " + option.names.joined(separator: ", ") + (option.valueName.map { " <\($0.lowercased())>" } ?? "")
            head += String(repeating: " ", count: max(1, 26 - head.count))
            // Wrapped at 90 columns, continued under the first line's text.
            var lines = [head]
            for word in option.help.split(separator: " ") {
                if lines[lines.count - 1].count + word.count + 1 > 90 { lines.append(String(repeating: " ", count: 26)) }
                lines[lines.count - 1] += (lines[lines.count - 1].hasSuffix(" ") ? "" : " ") + word
            }
            return lines.joined(separator: "\n")
        }.joined(separator: "\n")
    }

    struct Options: SubcommandOptions {
        var output: String?
        var force = false
        var runWords: [String] = []
        var command: [String] = []
    }

    typealias Parsed = SubcommandArguments.Parsed<Options>

    /// Takes the learn options out of the words before COMMAND; the rest are run options
    /// (SubcommandArguments).
    static func parse(_ arguments: [String]) -> Parsed {
        SubcommandArguments.parse(arguments, into: Options()) { options, name, value in
            switch name {
            case "-o", "--output":
                guard let text = value(), !text.isEmpty else { return .error("missing value for '\(name)'") }
                options.output = text
            case "--force":
                options.force = true
            case "--dry-run":
                return .error("'--dry-run' has no meaning for learn: learning runs the command")
            case "--report-json":
                return .error("'--report-json' is not supported by learn: use --format json for the summary")
            default:
                return .runOption
            }
            return .taken
        }
    }

    static func main(_ arguments: [String]) -> Int32 {
        let parsed = SubcommandArguments.options(parse(arguments), subcommand: "learn", help: help, usageLine: usageLine)
        guard let options = parsed.options else { return parsed.status }
        let runOptions: RunOptions
        do {
            runOptions = try RunOptionParser.parse(options.runWords)
        } catch .help {
            print(help)
            return 0
        } catch {
            printError("lpa-run learn: error: \(error.message)\n\(usageLine)")
            return LPAExitCode.ownError
        }
        guard !options.command.isEmpty else {
            printError("lpa-run learn: error: no command given\n\(usageLine)")
            return LPAExitCode.ownError
        }
        // Refused before anything runs: a long learning run must not end in "exists".
        if let path = options.output, !options.force, exists(path) {
            printError("lpa-run learn: error: \(TerminalText.printable(path)) exists: give --force to replace it, or another -o FILE")
            return LPAExitCode.ownError
        }

        let context = HostFacts.context(remembering: true)
        let plan: IsolationPlan
        switch RunCommand.compilePlan(command: options.command, options: runOptions, context: context, planOnly: false) {
        case .success(let compiled): plan = compiled
        case .failure(let failure): return failure.status
        }
        if plan.isolation == .landlock {
            printError("lpa-run learn: error: learning needs the namespace sandbox; leave out --isolation landlock")
            return LPAExitCode.ownError
        }

        let result: LaunchResult
        // Only the directory is opened (and checked) before the run: the file is created
        // in it after the sandbox is gone, so no sandbox process can see or replace it.
        var output: HostOutputDirectory?
        // Without -o the profile goes to stdout: the command's stdout goes to stderr for
        // the run, so nothing it prints can become part of the profile.
        var profileOut: Int32 = -1
        defer { if profileOut >= 0 { close(profileOut) } }
        do throws(LaunchError) {
            if let path = options.output {
                let directory = try HostOutputDirectory(forFile: path, option: "-o", plan: plan, cwd: context.cwd)
                try refuseBase(directory, plan: plan)
                output = directory
            }
            let auditLog = try runOptions.auditLog.map { path throws(LaunchError) in
                try HostOutputFile.open(path, option: "--audit-log", mode: .append, plan: plan, cwd: context.cwd)
            }
            if output == nil {
                fflush(nil)  // all streams: what print() buffered belongs before the swap
                profileOut = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)
                guard profileOut >= 0, dup2(STDERR_FILENO, STDOUT_FILENO) == STDOUT_FILENO else {
                    throw LaunchError(step: "learn: standard output", errno: errno,
                                      message: "cannot set the command's standard output aside", hint: "give -o FILE")
                }
            }
            result = try Launcher(plan: plan, options: LaunchOptions(quiet: runOptions.quiet, verbose: runOptions.verbose,
                                                                      auditLog: auditLog, record: true)).run()
        } catch {
            printError(error.description)
            return error.exitCode
        }
        if profileOut >= 0 {
            dup2(profileOut, STDOUT_FILENO)
            close(profileOut)
            profileOut = -1
        }

        // Stopped before the command started (a signal during setup): nothing ran, so
        // there is nothing to learn, and an allowlist of lpa-run's own calls would be a trap.
        guard !result.recordedSyscalls.isEmpty else {
            printError("lpa-run learn: error: the command did not start: nothing was recorded, no profile written")
            return result.exitStatus == 0 ? LPAExitCode.ownError : result.exitStatus
        }
        var base = plan.profile.chain.first?.source ?? "builtin:strict"
        if !base.hasPrefix("builtin:") && !base.hasPrefix("/") { base = context.cwd + "/" + base }
        var observations = LearnedProfile.Observations()
        observations.denied = result.audit.bySyscall + result.audit.expectedBySyscall
        observations.destinations = result.audit.destinations
        observations.otherDestinations = result.audit.otherDestinations
        // The names the DNS sink answered NXDOMAIN (in dig's presentation form; the
        // learned profile escapes them again for its comments).
        observations.dnsNames = (result.dns?.names ?? []).map { ($0.name, $0.count) }
        let learned = LearnedProfile(base: base, command: options.command, date: ISOTime.now(),
                                     exitStatus: result.exitStatus, recorded: result.recordedSyscalls,
                                     baseSeccomp: plan.seccomp, observations: observations)
        let text = learned.yaml
        if let path = options.output, let output {
            if let message = publish(text, output, path: path, replace: options.force) {
                printError("lpa-run learn: error: \(message)")
                return LPAExitCode.ownError
            }
        } else {
            print(text, terminator: "")
        }
        printError(summary(learned, output: options.output, format: runOptions.format, unrecorded: result.unrecordedCalls))
        let status = result.exitStatus
        return status == 0 || status == 128 + SIGINT || status == 128 + SIGTERM ? 0 : status
    }

    static func summary(_ learned: LearnedProfile, output: String?, format: OutputFormat, unrecorded: UInt64) -> String {
        let allow = learned.allowList
        switch format {
        case .json:
            let denied = learned.observations.denied.map { "{\"syscall\":\(JSONString.literal($0.name)),\"count\":\($0.count)}" }
            let dnsNames = learned.observations.dnsNames.map { "{\"name\":\(JSONString.literal($0.name)),\"count\":\($0.count)}" }
            let destinations = learned.observations.destinations.map {
                "{\"address\":\(JSONString.literal($0.address)),\"count\":\($0.count)}"
            }
            return "{\"output\":\(output.map(JSONString.literal) ?? "null"),\"base\":\(JSONString.literal(learned.base)),"
                + "\"exitStatus\":\(learned.exitStatus),\"syscalls\":\(learned.used.count),"
                + "\"baseDenies\":\(learned.baseDenied.count),"
                + "\"allow\":[\(allow.map(JSONString.literal).joined(separator: ","))],"
                + "\"denied\":[\(denied.joined(separator: ","))],\"destinations\":[\(destinations.joined(separator: ","))],"
                + "\"dnsNames\":[\(dnsNames.joined(separator: ","))],\"unrecorded\":\(unrecorded)}"
        case .text:
            let target = output.map { "written to \(TerminalText.printable($0))" } ?? "written to stdout"
            var text = "lpa-run learn: \(learned.used.count) syscalls allowed (the base denies \(learned.baseDenied.count) outright); "
                + "\(target); the command exited with \(learned.exitStatus)"
            if unrecorded > 0 { text += "\nlpa-run learn: warning: \(unrecorded) calls could not be recorded" }
            return text
        }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Refuses an output file that is one of the profiles the plan was compiled from
    /// (same device and inode): the learned profile would extend itself.
    static func refuseBase(_ directory: HostOutputDirectory, plan: IsolationPlan) throws(LaunchError) {
        guard let output = directory.existing() else { return }
        for link in plan.profile.chain where !link.source.hasPrefix("builtin:") {
            var st = stat()
            guard stat(link.source, &st) == 0, UInt64(st.st_dev) == output.device, UInt64(st.st_ino) == output.inode
            else { continue }
            throw LaunchError(step: "-o \(directory.path)",
                              message: "is the profile \(TerminalText.printable(link.source)) that the learned profile extends",
                              hint: "write the learned profile to another file: it extends the base by its path")
        }
    }

    /// Writes the profile beside nothing else: a new file in the directory opened before
    /// the run, given its name in one step (HostOutputDirectory.publish). Returns the
    /// error, or nil.
    static func publish(_ text: String, _ directory: HostOutputDirectory, path: String, replace: Bool) -> String? {
        let err = directory.publish(Array(text.utf8), mode: 0o644, replace: replace)
        if err == EEXIST { return "\(TerminalText.printable(path)) exists: give --force to replace it" }
        if err != 0 { return "cannot write \(TerminalText.printable(path)): \(String(cString: strerror(err)))" }
        return nil
    }
}
