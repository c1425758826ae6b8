import ArgumentParser
import FoundationEssentials

/// The whole command line as completions and the man page see it: the run options
/// from RunOptionTable and each subcommand's arguments as swift-argument-parser
/// describes them (`_dumpHelp`), so neither keeps a list of its own that could drift.
enum CommandLineModel {
    /// What may follow an option (or fill a positional argument).
    enum Value: Equatable {
        case none
        /// Profile names from `lpa-run profiles`, or a file.
        case profiles
        case files
        case words([String])
        /// Anything: nothing to offer.
        case free
    }

    struct Option {
        var names: [String]
        var valueName: String?
        var help: String
        var value: Value
        var long: String? { names.first { $0.hasPrefix("--") } }
    }

    struct Subcommand {
        var name: String
        var abstract: String
        var options: [Option]
        /// The positional argument's placeholder ("files") and what fills it.
        var positional: (name: String, repeating: Bool, value: Value)?
    }

    /// Every subcommand main.swift dispatches, in the order of `lpa-run --help`.
    static let subcommandTypes: [any ParsableCommand.Type] = [
        CheckCommand.self, ProfilesCommand.self, HashCommand.self, ProbeCommand.self, DoctorCommand.self,
        SchemaCommand.self, CompletionsCommand.self, ManCommand.self,
    ]

    static var runOptions: [Option] {
        RunOptionTable.all.map { option in
            Option(names: option.names, valueName: option.valueName, help: option.help,
                   value: value(valueName: option.valueName, help: option.help, listed: nil))
        }
    }

    static var subcommands: [Subcommand] {
        subcommandTypes.map(subcommand) + [
            // learn takes every run option (documented under OPTIONS) plus its own.
            Subcommand(name: "learn", abstract: "Run COMMAND recording its syscalls, then write a profile that allows only those.",
                       options: LearnCommand.learnOptions, positional: ("command", true, .free)),
            Subcommand(name: "help", abstract: "Show the help of lpa-run.", options: [], positional: nil),
        ]
    }

    /// A value's completion from its placeholder and help: a profile (`NAME|FILE`), a
    /// path, a fixed list ("(values: text, json" in RunOptionTable's help, or the
    /// choices swift-argument-parser lists), or anything.
    static func value(valueName: String?, help: String, listed: [String]?) -> Value {
        guard let valueName else { return .none }
        if let listed, !listed.isEmpty { return .words(listed) }
        if let start = help.firstRange(of: "(values: ") {
            let rest = help[start.upperBound...]
            let end = rest.firstIndex { $0 == ";" || $0 == ")" } ?? rest.endIndex
            return .words(rest[..<end].split(separator: ",").map { $0.trimmingBlanks })
        }
        if valueName == "NAME|FILE" { return .profiles }
        let upper = valueName.uppercased()
        if ["FILE", "PATH", "DIR"].contains(where: { upper.contains($0) }) { return .files }
        return .free
    }

    /// The parts of swift-argument-parser's `_dumpHelp` JSON (ToolInfoV0) read here.
    private struct HelpDump: Decodable {
        struct Command: Decodable { var arguments: [Argument]? }
        struct Argument: Decodable {
            var shouldDisplay: Bool?
            var kind: String?
            var abstract: String?
            var valueName: String?
            var allValues: [String]?
            var isRepeating: Bool?
            var names: [Name]?
        }
        struct Name: Decodable {
            var kind: String?
            var name: String?
        }
        var command: Command
    }

    /// One subcommand, read from swift-argument-parser's JSON description of it.
    static func subcommand(_ type: any ParsableCommand.Type) -> Subcommand {
        let name = type.configuration.commandName ?? ""
        var result = Subcommand(name: name, abstract: type.configuration.abstract, options: [], positional: nil)
        guard let dump = try? JSONDecoder().decode(HelpDump.self, from: Data(type._dumpHelp().utf8)),
              let arguments = dump.command.arguments else { return result }
        for argument in arguments where argument.shouldDisplay ?? true {
            let kind = argument.kind
            let help = argument.abstract ?? ""
            let valueName = argument.valueName
            let listed = argument.allValues
            if kind == "positional" {
                let value = valueName.map { Self.value(valueName: $0, help: help, listed: listed) } ?? .free
                // A positional named for paths ("files", "paths") completes files.
                let pathLike = ["file", "path", "dir"].contains { (valueName ?? "").lowercased().contains($0) }
                result.positional = (valueName ?? "ARG", argument.isRepeating ?? false,
                                     value == .free && pathLike ? .files : value)
                continue
            }
            let names = (argument.names ?? []).compactMap { entry -> String? in
                guard let text = entry.name else { return nil }
                return (entry.kind == "short" ? "-" : "--") + text
            }.sorted { $0.count < $1.count }
            guard !names.isEmpty else { continue }
            let takesValue = kind == "option"
            result.options.append(Option(
                names: names, valueName: takesValue ? (valueName ?? "value") : nil, help: help,
                value: takesValue ? value(valueName: valueName ?? "value", help: help, listed: listed) : .none))
        }
        return result
    }
}
