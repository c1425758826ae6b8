import LPAPolicy

/// The top-level help: how to run a command, then the other commands.
enum Help {
    static let usageLine = "Usage: lpa-run [OPTIONS] [--] COMMAND [ARG...]   (lpa-run --help for more)"

    /// The OPTIONS section, from RunOptionTable, laid out as swift-argument-parser lays
    /// out the subcommands' help: labels indented 2, help from column 26, 100 columns.
    static var options: String {
        var text = "OPTIONS:\n"
        for option in RunOptionTable.all {
            var label = String(repeating: " ", count: indent) + option.names.joined(separator: ", ")
            if let valueName = option.valueName { label += " <\(valueName)>" }
            if label.count < helpColumn {
                text += label + String(repeating: " ", count: helpColumn - label.count)
            } else {
                text += label + "\n" + String(repeating: " ", count: helpColumn)
            }
            text += wrapped(option.help, from: helpColumn, to: columns) + "\n"
        }
        return text
    }

    private static let indent = 2
    private static let helpColumn = 26
    private static let columns = 100

    /// `text` broken at spaces so that no line passes `width`; every line after the first
    /// starts at `column`.
    private static func wrapped(_ text: String, from column: Int, to width: Int) -> String {
        var result = ""
        var length = column
        for word in text.split(separator: " ") {
            if length == column {
                result += word
                length += word.count
            } else if length + 1 + word.count <= width {
                result += " " + word
                length += 1 + word.count
            } else {
                result += "\n" + String(repeating: " ", count: column) + word
                length = column + word.count
            }
        }
        return result
    }

    static var text: String {
        """
        lpa-run: run a local model server or agent in a sandbox with no network,
        nothing of the host writable, caches in tmpfs, and a seccomp filter.

        USAGE:
          lpa-run [OPTIONS] [--] COMMAND [ARG...]
          lpa-run check [--format json] FILE...
          lpa-run profiles
          lpa-run probe [--profile NAME|FILE] [--expect NAME|FILE]
          lpa-run doctor
          lpa-run explain [--profile NAME|FILE] [--format text|json]
          lpa-run hash FILE|DIR...
          lpa-run export --to oci|seccomp|kubernetes|systemd [OPTIONS] [-o DIR] [--] COMMAND [ARG...]
          lpa-run learn [OPTIONS] [-o FILE] [--force] [--] COMMAND [ARG...]
          lpa-run schema | completions bash|zsh|fish | man

        The first word that is not an option starts COMMAND; everything after it is
        passed to COMMAND untouched. To run a program named like a subcommand, write
        `lpa-run -- check`.

        EXAMPLES:
          lpa-run --profile llama-server -p 8080:8080 llama-server -m model.gguf --port 8080
          lpa-run --dry-run --format json python3 agent.py
          lpa-run check ./my-server.yaml

        \(options)
        COMMANDS:
          check FILE...   \(CheckCommand.configuration.abstract)
          profiles        \(ProfilesCommand.configuration.abstract)
          hash PATH...    \(HashCommand.configuration.abstract)
          probe           \(ProbeCommand.configuration.abstract)
          doctor          \(DoctorCommand.configuration.abstract)
          explain         \(ExplainCommand.configuration.abstract)
          export          Write the plan for crun/runc (OCI), Kubernetes, systemd or as a seccomp
                          profile, with a parity table (lpa-run export --help).
          learn           Run COMMAND recording its syscalls, then write a profile that allows
                          only those (lpa-run learn --help).
          schema          \(SchemaCommand.configuration.abstract)
          completions SHELL  \(CompletionsCommand.configuration.abstract)
          man             \(ManCommand.configuration.abstract)

        EXIT STATUS:
          the command's own status; 128+N when it died from signal N;
          \(LPAExitCode.ownError) lpa-run's own error (bad profile, isolation that cannot be applied);
          \(LPAExitCode.notExecutable) command found but not executable; \(LPAExitCode.notFound) command not found.
        """
    }
}
