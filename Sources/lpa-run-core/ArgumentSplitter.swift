/// Splits `lpa-run [OPTIONS] [--] COMMAND [ARG...]` into lpa-run's options and the
/// command. The first word that is not an option starts the command; everything after
/// it passes through untouched, so `lpa-run --profile strict llama-server --port 8080`
/// needs no `--`.
struct ArgumentSplitter {
    struct Split {
        var options: [String]
        var command: [String]
        /// The command's first word's position in lpa-run's argv (argv[0] is lpa-run).
        var commandPosition = 0
    }

    static func split(_ arguments: [String]) throws(RunOptionParser.Failure) -> Split {
        var options: [String] = []
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if word == "--" {
                return Split(options: options, command: Array(arguments[(index + 1)...]), commandPosition: index + 2)
            }
            guard word.hasPrefix("-"), word != "-" else { break }
            options.append(word)
            // An option that takes a value takes the next word, even one that starts with '-'.
            if RunOptionTable.option(named: word)?.takesValue == true {
                guard index + 1 < arguments.count else { throw .invalid("missing value for '\(word)'") }
                options.append(arguments[index + 1])
                index += 1
            }
            index += 1
        }
        return Split(options: options, command: Array(arguments[index...]), commandPosition: index + 1)
    }
}
