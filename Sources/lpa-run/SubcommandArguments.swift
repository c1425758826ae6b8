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

    struct Split {
        var runWords: [String] = []
        var command: [String] = []
    }

    enum Result {
        case split(Split)
        case help
        case error(String)
    }

    /// `own(name, value)` decides each option by name; `value()` gives its value (the
    /// text after `=`, or the next word), nil when there is none.
    static func split(_ arguments: [String], own: (_ name: String, _ value: () -> String?) -> Own) -> Result {
        var result = Split()
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if word == "--" {
                result.command = Array(arguments[(index + 1)...])
                return .split(result)
            }
            guard word.hasPrefix("-"), word != "-" else { break }
            var name = word
            var inline: String?
            if word.hasPrefix("--"), let eq = word.firstIndex(of: "=") {
                name = String(word[..<eq])
                inline = String(word[word.index(after: eq)...])
            }
            if name == "-h" || name == "--help" { return .help }
            let decision = own(name) {
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
        return .split(result)
    }
}
