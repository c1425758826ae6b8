import Testing
@testable import lpa_run_core

/// Completions and the man page come from the option table and the subcommands'
/// own declarations: every option and subcommand appears in each of them.
struct GeneratedDocumentationTests {
    @Test("every run option is in the bash, zsh and fish completions and in the man page")
    func everyRunOptionAppears() {
        for option in RunOptionTable.all {
            for name in option.names {
                #expect(CompletionScripts.bash.contains(name), "bash lacks \(name)")
                #expect(CompletionScripts.zsh.contains("'" + name) || CompletionScripts.zsh.contains("'*" + name), "zsh lacks \(name)")
                let fishName = name.hasPrefix("--") ? "-l " + name.dropFirst(2) : "-s " + name.dropFirst(1)
                #expect(CompletionScripts.fish.contains(fishName), "fish lacks \(name)")
                #expect(ManPage.text.contains("\\fB" + ManPage.escaped(name) + "\\fR"), "the man page lacks \(name)")
            }
        }
    }

    @Test("every subcommand is completed and documented, with the options swift-argument-parser declares")
    func everySubcommandAppears() throws {
        let names = CommandLineModel.subcommands.map(\.name)
        #expect(names == ["check", "profiles", "hash", "probe", "doctor", "schema", "completions", "man", "learn", "help"])
        for name in names {
            #expect(CompletionScripts.bash.contains("        \(name))"), "bash lacks \(name)")
            #expect(CompletionScripts.fish.contains("-a \(name) -d"), "fish lacks \(name)")
            #expect(ManPage.text.contains(".B \(name)\n"), "the man page lacks \(name)")
        }
        let check = try #require(CommandLineModel.subcommands.first { $0.name == "check" })
        #expect(check.options.first { $0.long == "--format" }?.value == .words(["text", "json"]))
        #expect(check.positional?.value == .files)
        let probe = try #require(CommandLineModel.subcommands.first { $0.name == "probe" })
        #expect(probe.options.first { $0.long == "--profile" }?.value == .profiles)
        let learn = try #require(CommandLineModel.subcommands.first { $0.name == "learn" })
        #expect(learn.options.first { $0.long == "--output" }?.value == .files)
        #expect(ManPage.text.contains("\\fB\\-\\-force\\fR"))
        #expect(LearnCommand.help.contains("--force"))
        let completions = try #require(CommandLineModel.subcommands.first { $0.name == "completions" })
        #expect(completions.positional?.value == .words(["bash", "zsh", "fish"]))
    }

    @Test("run option values complete by kind: profiles, listed words, files")
    func runOptionValues() {
        let values = Dictionary(uniqueKeysWithValues: CommandLineModel.runOptions.compactMap { o in o.long.map { ($0, o.value) } })
        #expect(values["--profile"] == .profiles)
        #expect(values["--format"] == .words(["text", "json"]))
        #expect(values["--model"] == .files)
        #expect(values["--dry-run"] == CommandLineModel.Value.none)
    }
}
