/// Parses the run options by hand, from RunOptionTable: on the run path the
/// reflection-based parsing of swift-argument-parser cost ~1.7 ms of a start-up that is
/// benchmarked against bubblewrap.
enum RunOptionParser {
    enum Failure: Error, Equatable {
        case help
        case invalid(String)

        var message: String {
            switch self {
            case .help: "help requested"
            case .invalid(let text): text
            }
        }
    }

    static func parse(_ words: [String]) throws(Failure) -> RunOptions {
        var options = RunOptions()
        var index = 0
        while index < words.count {
            var name = words[index]
            var inline: String?
            if name.hasPrefix("--"), let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let option = RunOptionTable.option(named: name) else { throw .invalid("unknown option '\(name)'") }
            switch option.action {
            case .help:
                throw .help
            case .flag(let set):
                set(&options)  // a value after `=` is ignored, as it always was
            case .value(let apply):
                // Words start at argv[1]: argv[0] is lpa-run.
                options.position = index + 1
                defer { options.position = 0 }
                if let inline {
                    try apply(&options, inline)
                } else {
                    index += 1
                    guard index < words.count else { throw .invalid("missing value for '\(name)'") }
                    try apply(&options, words[index])
                }
            }
            index += 1
        }
        return options
    }
}
