import LPAPolicy

/// The words of a subcommand that takes every run option besides its own (`export`,
/// `learn`): its own options go to the subcommand; the run options, each with the value
/// a value-taking one takes (as ArgumentSplitter splits them), are collected for
/// RunOptionParser; the first word that is not an option, or the words after `--`, are
/// COMMAND. One walker, so the subcommands split alike.
enum SubcommandArguments {
    /// What the subcommand made of one option.
    enum Own {
        /// Its own option, taken (with its value, if any).
        case taken
        /// Not its own: a run option.
        case runOption
        case error(String)
    }

    enum Parsed<Options> {
        case options(Options)
        case help
        case error(String)
    }

    /// `own(&options, name, value)` decides each option by name; `value()` gives its value
    /// (the text after `=`, or the next word), nil when there is none.
    static func parse<Options: SubcommandOptions>(
        _ arguments: [String], into options: Options,
        own: (_ options: inout Options, _ name: String, _ value: () -> String?) -> Own
    ) -> Parsed<Options> {
        var result = options
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if word == "--" {
                result.command = Array(arguments[(index + 1)...])
                return .options(result)
            }
            guard word.hasPrefix("-"), word != "-" else { break }
            var name = word
            var inline: String?
            if word.hasPrefix("--"), let eq = word.firstIndex(of: "=") {
                name = String(word[..<eq])
                inline = String(word[word.index(after: eq)...])
            }
            if name == "-h" || name == "--help" { return .help }
            let decision = own(&result, name) {
                if let inline { return inline }
                index += 1
                return index < arguments.count ? arguments[index] : nil
            }
            switch decision {
            case .taken:
                break
            case .error(let message):
                return .error(message)
            case .runOption:
                result.runWords.append(word)
                if inline == nil, RunOptionTable.option(named: name)?.takesValue == true {
                    index += 1
                    guard index < arguments.count else { return .error("missing value for '\(name)'") }
                    result.runWords.append(arguments[index])
                }
            }
            index += 1
        }
        if index < arguments.count { result.command = Array(arguments[index...]) }
        return .options(result)
    }

    /// The first step of a subcommand's main: its options, or the status to exit with
    /// once help or the error (with the usage line) is printed.
    static func options<Options>(_ parsed: Parsed<Options>, subcommand: String, help: String,
                                 usageLine: String) -> (options: Options?, status: Int32) {
        switch parsed {
        case .options(let options):
            return (options, 0)
        case .help:
            print(help)
            return (nil, 0)
        case .error(let message):
            printError("lpa-run \(subcommand): error: \(message)\n\(usageLine)")
            return (nil, LPAExitCode.ownError)
        }
    }
}

/// What SubcommandArguments fills in besides the subcommand's own options.
protocol SubcommandOptions {
    var runWords: [String] { get set }
    var command: [String] { get set }
}
