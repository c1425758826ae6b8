import Testing
@testable import lpa_run_core

/// A value each option accepts and that differs from its default.
private func sample(for option: RunOption) -> String {
    if option.names.contains("--format") { return "json" }
    if option.names.contains("--isolation") { return "landlock" }
    return "sample-value"
}

private let valued = RunOptionTable.all.filter(\.takesValue)
private let flags = RunOptionTable.all.filter {
    if case .flag = $0.action { return true }
    return false
}
private let longValuedNames = valued.flatMap(\.names).filter { $0.hasPrefix("--") }

struct RunOptionParsingTests {
    @Test("an option's value may follow as the next word", arguments: valued)
    func valueAsNextWord(option: RunOption) throws {
        for name in option.names {
            let options = try RunOptionParser.parse([name, sample(for: option)])
            #expect(options != RunOptions(), "\(name) changed nothing")
        }
    }

    @Test("a long option's value may follow '=' and means the same as the next word", arguments: longValuedNames)
    func valueAfterEquals(name: String) throws {
        let option = try #require(RunOptionTable.option(named: name))
        let value = sample(for: option)
        #expect(try RunOptionParser.parse(["\(name)=\(value)"]) == RunOptionParser.parse([name, value]))
    }

    @Test("a value after '=' may contain '='")
    func valueContainingEquals() throws {
        #expect(try RunOptionParser.parse(["--env=A=b"]).env == ["A=b"])
    }

    @Test("an option without its value is an error naming the option", arguments: valued)
    func missingValue(option: RunOption) {
        for name in option.names {
            #expect(throws: RunOptionParser.Failure.invalid("missing value for '\(name)'")) {
                try RunOptionParser.parse([name])
            }
            #expect(throws: RunOptionParser.Failure.invalid("missing value for '\(name)'")) {
                try ArgumentSplitter.split([name])
            }
        }
    }

    @Test("a flag sets something and takes no value", arguments: flags)
    func flagSetsSomething(option: RunOption) throws {
        for name in option.names {
            #expect(try RunOptionParser.parse([name]) != RunOptions(), "\(name) changed nothing")
            #expect(try ArgumentSplitter.split([name, "cmd"]).command == ["cmd"])
        }
    }

    @Test("repeatable options collect every value in order")
    func repeatableOptionsCollect() throws {
        let options = try RunOptionParser.parse(["-p", "1:1", "--publish=2:2", "--env", "A", "--env", "B=c"])
        #expect(options.publish == ["1:1", "2:2"])
        #expect(options.env == ["A", "B=c"])
    }

    @Test("-h and --help ask for help")
    func helpIsRequested() {
        for name in ["-h", "--help"] {
            #expect(throws: RunOptionParser.Failure.help) { try RunOptionParser.parse([name]) }
        }
    }

    @Test("an unknown option is an error naming it")
    func unknownOption() {
        #expect(throws: RunOptionParser.Failure.invalid("unknown option '--no-such-option'")) {
            try RunOptionParser.parse(["--no-such-option"])
        }
        #expect(throws: RunOptionParser.Failure.invalid("unknown option '-x'")) {
            try RunOptionParser.parse(["-x"])
        }
    }

    @Test("short names take no value after '='")
    func shortNameWithEquals() {
        #expect(throws: RunOptionParser.Failure.invalid("unknown option '-p=1:2'")) {
            try RunOptionParser.parse(["-p=1:2"])
        }
    }

    @Test("--format accepts text or json and names both otherwise")
    func formatValues() throws {
        #expect(try RunOptionParser.parse(["--format", "json"]).format == .json)
        #expect(try RunOptionParser.parse(["--format=text"]).format == .text)
        #expect(throws: RunOptionParser.Failure.invalid("bad value 'xml' for '--format': use text or json")) {
            try RunOptionParser.parse(["--format", "xml"])
        }
    }

    @Test("no two options share a name")
    func namesAreUnique() {
        let names = RunOptionTable.all.flatMap(\.names)
        #expect(Set(names).count == names.count)
    }
}

struct ArgumentSplittingTests {
    @Test("a valued option keeps its value, and the command starts after it", arguments: valued)
    func valueStaysWithOption(option: RunOption) throws {
        for name in option.names {
            let split = try ArgumentSplitter.split([name, sample(for: option), "cmd", "--port", "8080"])
            #expect(split.options == [name, sample(for: option)])
            #expect(split.command == ["cmd", "--port", "8080"])
        }
    }

    @Test("a valued option's value may start with '-'")
    func dashValue() throws {
        let split = try ArgumentSplitter.split(["--hostname", "-x", "cmd"])
        #expect(split.options == ["--hostname", "-x"])
        #expect(split.command == ["cmd"])
    }

    @Test("the first word that is not an option starts the command")
    func commandStartsAtFirstNonOption() throws {
        let split = try ArgumentSplitter.split(["--dry-run", "--format=json", "python3", "-v", "agent.py"])
        #expect(split.options == ["--dry-run", "--format=json"])
        #expect(split.command == ["python3", "-v", "agent.py"])
    }

    @Test("'--' ends the options, so a command may look like an option or a subcommand")
    func doubleDashEndsOptions() throws {
        let split = try ArgumentSplitter.split(["-q", "--", "--weird", "check"])
        #expect(split.options == ["-q"])
        #expect(split.command == ["--weird", "check"])
    }

    @Test("a lone '-' starts the command")
    func loneDash() throws {
        #expect(try ArgumentSplitter.split(["-", "x"]).command == ["-", "x"])
    }
}

extension RunOption: CustomTestStringConvertible {
    public var testDescription: String { names.joined(separator: ", ") }
}
