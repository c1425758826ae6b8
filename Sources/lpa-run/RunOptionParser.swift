/// Parses the run options by hand. swift-argument-parser still defines them (RunOptions:
/// names, help text), but on the run path its reflection-based parsing cost ~1.7 ms of
/// a start-up that is benchmarked against bubblewrap.
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
        func value(_ name: String, inline: String?) throws(Failure) -> String {
            if let inline { return inline }
            index += 1
            guard index < words.count else { throw .invalid("missing value for '\(name)'") }
            return words[index]
        }
        while index < words.count {
            var name = words[index]
            var inline: String?
            if name.hasPrefix("--"), let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            switch name {
            case "-h", "--help": throw .help
            case "--profile": options.profile = try value(name, inline: inline)
            case "--dry-run": options.dryRun = true
            case "--format":
                let text = try value(name, inline: inline)
                guard let format = OutputFormat(rawValue: text) else {
                    throw .invalid("bad value '\(text)' for '--format': use text or json")
                }
                options.format = format
            case "-p", "--publish": options.publish.append(try value(name, inline: inline))
            case "--connect": options.connect.append(try value(name, inline: inline))
            case "--env": options.env.append(try value(name, inline: inline))
            case "--model": options.model.append(try value(name, inline: inline))
            case "--hostname": options.hostname = try value(name, inline: inline)
            case "--allow-non-loopback-publish": options.allowNonLoopbackPublish = true
            case "--audit-log": options.auditLog = try value(name, inline: inline)
            case "--report-json": options.reportJSON = try value(name, inline: inline)
            case "-v", "--verbose": options.verbose = true
            case "-q", "--quiet": options.quiet = true
            default: throw .invalid("unknown option '\(name)'")
            }
            index += 1
        }
        return options
    }
}
