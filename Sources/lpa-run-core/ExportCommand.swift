#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy

/// `lpa-run export --to TARGET [RUN OPTIONS] [-o DIR] [--fail-on-weaker] [--] COMMAND`:
/// compiles the plan exactly as a run would (RunCommand.compilePlan), creates no
/// sandbox, and writes it in another engine's format with the parity table on stderr.
enum ExportCommand {
    static let usageLine = "Usage: lpa-run export --to oci|seccomp|kubernetes|systemd [OPTIONS] [-o DIR] "
        + "[--fail-on-weaker] [--] COMMAND [ARG...]"

    static var help: String {
        """
        lpa-run export: write the plan of a run for another engine, with what it cannot express.

        USAGE:
          lpa-run export --to oci|seccomp|kubernetes|systemd [OPTIONS] [-o DIR] [--fail-on-weaker] [--] COMMAND [ARG...]

        The plan is compiled exactly as `lpa-run [OPTIONS] COMMAND` would compile it (same
        profiles, -p, --model, --env, ...); no sandbox is created. Every export ends with a
        parity table on stderr: each plan setting, and whether the target expresses it
        exactly, approximately (how), or not at all (what to do instead). docs/export.md
        maps every setting to every target.

        TARGETS:
          oci          an OCI runtime bundle: config.json and an empty rootfs/ owned by the
                       sandbox user (run it with `crun run -b DIR NAME`); the root is
                       assembled from read-only binds of the host
          seccomp      a Docker/Podman/OCI seccomp profile (podman --security-opt seccomp=FILE,
                       a Kubernetes Localhost profile)
          kubernetes   a Pod, a NetworkPolicy (and a Service for published ports) plus the
                       seccomp profile for the nodes
          systemd      a service unit, plus a socket unit and a systemd-socket-proxyd relay
                       per published port

        EXPORT OPTIONS:
          --to <target>           What to write (required).
          -o, --output <dir>      Write the files into DIR (created if missing). Without it the
                                  one file is written to stdout; targets with several files need it.
          --fail-on-weaker        Exit 1 when any setting is not exact (after writing).
          --format <format>       The parity table as text (default) or json, on stderr.

        \(Help.options)
        EXAMPLES:
          lpa-run export --to kubernetes -p 8080:8080 -o k8s/ llama-server -m /models/m.gguf --port 8080
          lpa-run export --to systemd --profile llama-server -o units/ llama-server --port 8080
          lpa-run export --to oci -o bundle/ lpa-probe status && crun run -b bundle/ probe

        EXIT STATUS:
          0 written; 1 written but weaker than the plan (--fail-on-weaker);
          \(LPAExitCode.ownError) bad options, a profile that does not compile, or files that cannot be written.
        """
    }

    struct Options: SubcommandOptions {
        var target: ExportTarget?
        var output: String?
        var failOnWeaker = false
        var runWords: [String] = []
        var command: [String] = []
    }

    typealias Parsed = SubcommandArguments.Parsed<Options>

    /// Takes the export options out of the words before COMMAND; the rest are run
    /// options (SubcommandArguments).
    static func parse(_ arguments: [String]) -> Parsed {
        SubcommandArguments.parse(arguments, into: Options()) { options, name, value in
            switch name {
            case "--to":
                guard let text = value() else { return .error("missing value for '--to'") }
                guard let target = ExportTarget(rawValue: text) else {
                    return .error("bad value '\(text)' for '--to': use "
                                  + ExportTarget.allCases.map(\.rawValue).joined(separator: ", "))
                }
                options.target = target
            case "-o", "--output":
                guard let text = value(), !text.isEmpty else { return .error("missing value for '\(name)'") }
                options.output = text
            case "--fail-on-weaker":
                options.failOnWeaker = true
            case "--dry-run", "--audit-log", "--report-json":
                return .error("'\(name)' has no meaning for export: nothing runs")
            default:
                return .runOption
            }
            return .taken
        }
    }

    static func main(_ arguments: [String]) -> Int32 {
        let parsed = SubcommandArguments.options(parse(arguments), subcommand: "export", help: help, usageLine: usageLine)
        guard let options = parsed.options else { return parsed.status }
        guard let target = options.target else {
            printError("lpa-run export: error: --to is required (oci, seccomp, kubernetes or systemd)\n\(usageLine)")
            return LPAExitCode.ownError
        }
        let runOptions: RunOptions
        do {
            runOptions = try RunOptionParser.parse(options.runWords)
        } catch .help {
            print(help)
            return 0
        } catch {
            printError("lpa-run export: error: \(error.message)\n\(usageLine)")
            return LPAExitCode.ownError
        }
        guard !options.command.isEmpty else {
            printError("lpa-run export: error: no command given\n\(usageLine)")
            return LPAExitCode.ownError
        }

        let plan: IsolationPlan
        switch RunCommand.compilePlan(command: options.command, options: runOptions, context: HostFacts.context(),
                                      planOnly: true) {
        case .success(let compiled): plan = compiled
        case .failure(let failure): return failure.status
        }
        let result = PlanExporter.export(plan, to: target, isFile: { path in
            var info = stat()
            return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        })

        if !result.refusals.isEmpty {
            for refusal in result.refusals { printError("lpa-run export: error: \(refusal)") }
            return LPAExitCode.ownError
        }
        if let directory = options.output {
            if let message = write(result, into: directory, owner: plan.identity) {
                printError("lpa-run export: error: \(message)")
                return LPAExitCode.ownError
            }
        } else if result.files.count == 1 {
            print(result.files[0].contents, terminator: "")
        } else {
            printError("lpa-run export: error: --to \(target.rawValue) writes \(result.files.count) files ("
                       + result.files.map(\.name).joined(separator: ", ") + "): give -o DIR")
            return LPAExitCode.ownError
        }
        printError(runOptions.format == .json ? result.parityJSON : result.parityText)
        if options.failOnWeaker && !result.isExact {
            printError("lpa-run export: \(result.count(.approximate) + result.count(.none)) settings are weaker than "
                       + "the plan or not expressible in \(target.rawValue) (--fail-on-weaker)")
            return 1
        }
        return 0
    }

    /// Writes the files into DIR, creating it (and the empty directories the target
    /// needs). A file is created or truncated, never followed through a link. Returns
    /// the error, or nil.
    static func write(_ result: ExportResult, into directory: String, owner: Identity) -> String? {
        // Like mkdir -p: each missing component in turn.
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                return "cannot create \(prefix): \(String(cString: strerror(errno)))"
            }
        }
        for name in result.directories {
            let path = directory + "/" + name
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                return "cannot create \(path): \(String(cString: strerror(errno)))"
            }
            // The OCI rootfs: the runtime makes the mount points in it from inside the
            // user namespace, where only the sandbox user is mapped, so it must own it.
            if geteuid() == 0 && chown(path, owner.uid, owner.gid) != 0 {
                return "cannot give \(path) to \(owner.uid):\(owner.gid): \(String(cString: strerror(errno)))"
            }
        }
        for file in result.files {
            let path = directory + "/" + file.name
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return "cannot write \(path): \(String(cString: strerror(errno)))" }
            defer { close(fd) }
            let bytes = Array(file.contents.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return "cannot write \(path): \(String(cString: strerror(errno)))" }
                offset += n
            }
        }
        return nil
    }
}
