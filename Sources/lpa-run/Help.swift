/// The top-level help: how to run a command, then the other commands.
enum Help {
    static let usageLine = "Usage: lpa-run [OPTIONS] [--] COMMAND [ARG...]   (lpa-run --help for more)"

    /// swift-argument-parser's option list, without its generated usage line.
    static var options: String {
        let full = RunOptionHelp.helpMessage(columns: 100)
        guard let start = full.range(of: "OPTIONS:") else { return full }
        return String(full[start.lowerBound...])
    }

    static var text: String {
        """
        lpa-run: run a local model server or agent in a sandbox with no network,
        nothing of the host writable, caches in tmpfs, and a seccomp filter.

        USAGE:
          lpa-run [OPTIONS] [--] COMMAND [ARG...]
          lpa-run check FILE...
          lpa-run profiles
          lpa-run probe [--profile NAME|FILE] [--expect NAME|FILE]
          lpa-run doctor
          lpa-run hash FILE|DIR...

        The first word that is not an option starts COMMAND; everything after it is
        passed to COMMAND untouched. To run a program named like a subcommand, write
        `lpa-run -- check`.

        EXAMPLES:
          lpa-run --profile strict llama-server -m model.gguf --port 8080
          lpa-run --dry-run --format json python3 agent.py
          lpa-run check ./my-server.yaml

        \(options)
        COMMANDS:
          check FILE...   \(CheckCommand.configuration.abstract)
          profiles        \(ProfilesCommand.configuration.abstract)
          hash PATH...    \(HashCommand.configuration.abstract)
          probe           \(ProbeCommand.configuration.abstract)
          doctor          \(DoctorCommand.configuration.abstract)

        EXIT STATUS:
          the command's own status; 128+N when it died from signal N;
          125 lpa-run's own error (bad profile, isolation that cannot be applied);
          126 command found but not executable; 127 command not found.
        """
    }
}
