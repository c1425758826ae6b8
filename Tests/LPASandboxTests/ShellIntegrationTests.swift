import Foundation
import Testing

/// Completion scripts and the man page, loaded by the real bash, fish, zsh and man
/// (installed by `make deps`), with the built lpa-run on PATH as an installed copy is.
@Suite("completions and man page")
struct ShellIntegrationTests {
    let runner = Runner(who: .caller)

    /// `lpa-run ARGUMENTS` printed, written to a file in a directory of the test's own.
    func generated(_ arguments: [String], in directory: TestDirectory, name: String) throws -> String {
        let result = try runner.run(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let path = directory.path + "/" + name
        try result.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `shell -c script` with lpa-run first on PATH, in an empty directory (so file
    /// completion offers nothing).
    func shell(_ argv: [String], cwd: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let env = ["PATH": Binaries.shared.directory + ":/usr/bin:/bin", "HOME": runner.home, "LANG": "C.UTF-8"]
        let child = try Spawned(argv, environment: env, cwd: cwd)
        let (status, stdout, stderr) = child.finish(seconds: 60)
        return (status, stdout, stderr)
    }

    /// COMPREPLY of the bash completion for `words` (the last one is being completed).
    func bashCompletions(_ script: String, _ words: [String], cwd: String) throws -> [String] {
        let quoted = words.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let program = """
            source '\(script)' || exit 2
            COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1); COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
            _lpa_run
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let result = try shell(["/bin/bash", "--norc", "--noprofile", "-c", program], cwd: cwd)
        #expect(result.status == 0, "bash: \(result.stderr)")
        #expect(result.stderr.isEmpty, "bash: \(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }

    @Test("bash completes --profile with the names `lpa-run profiles` lists, and options, subcommands and COMMAND")
    func bashCompletesProfiles() throws {
        let directory = try TestDirectory(under: Binaries.shared.scratch, owner: getuid())
        defer { directory.remove() }
        let script = try generated(["completions", "bash"], in: directory, name: "lpa-run.bash")
        let empty = try TestDirectory(under: Binaries.shared.scratch, owner: getuid())
        defer { empty.remove() }

        let profiles = try bashCompletions(script, ["lpa-run", "--profile", ""], cwd: empty.path)
        for name in ["strict", "agent", "agent-python", "llama-server", "python-server"] {
            #expect(profiles.contains(name), "\(name) missing from \(profiles)")
        }
        #expect(try bashCompletions(script, ["lpa-run", "--profile", "agent"], cwd: empty.path).sorted() == ["agent", "agent-python"])
        #expect(try bashCompletions(script, ["lpa-run", "-v", "--profile", "=", "llama"], cwd: empty.path) == ["llama-server"])
        #expect(try bashCompletions(script, ["lpa-run", "--dry-", ], cwd: empty.path) == ["--dry-run"])
        #expect(try bashCompletions(script, ["lpa-run", "--format", ""], cwd: empty.path).sorted() == ["json", "text"])
        #expect(try bashCompletions(script, ["lpa-run", "chec"], cwd: empty.path).contains("check"))
        #expect(try bashCompletions(script, ["lpa-run", "check", "--for"], cwd: empty.path) == ["--format"])
        #expect(try bashCompletions(script, ["lpa-run", "completions", ""], cwd: empty.path).sorted() == ["bash", "fish", "zsh"])
        // After COMMAND, the words are COMMAND's: no lpa-run option is offered.
        let afterCommand = try bashCompletions(script, ["lpa-run", "--profile", "strict", "python3", "--pro"], cwd: empty.path)
        #expect(!afterCommand.contains("--profile"), "\(afterCommand)")
    }

    @Test("fish and zsh complete --profile with profile names, options, subcommands and listed values")
    func fishAndZsh() throws {
        let directory = try TestDirectory(under: Binaries.shared.scratch, owner: getuid())
        defer { directory.remove() }
        let fish = try generated(["completions", "fish"], in: directory, name: "lpa-run.fish")
        let zsh = try generated(["completions", "zsh"], in: directory, name: "_lpa-run")

        let fishResult = try shell(["/usr/bin/fish", "--no-config", "-c",
                                    "source '\(fish)'; and complete -C 'lpa-run --profile '"], cwd: directory.path)
        #expect(fishResult.status == 0, "\(fishResult.stderr)")
        #expect(fishResult.stderr.isEmpty, "\(fishResult.stderr)")
        let names = fishResult.stdout.split(separator: "\n").map { String($0.split(separator: "\t").first ?? "") }
        for name in ["strict", "agent", "python-server"] { #expect(names.contains(name), "\(fishResult.stdout)") }
        #expect(fishResult.stdout.contains("strict\t"), "profile descriptions: \(fishResult.stdout)")

        let options = try shell(["/usr/bin/fish", "--no-config", "-c", "source '\(fish)'; and complete -C 'lpa-run --dry'"],
                                cwd: directory.path)
        #expect(options.stdout.hasPrefix("--dry-run\t"), "\(options.stdout)")

        let zshSyntax = try shell(["/usr/bin/zsh", "-n", zsh], cwd: directory.path)
        #expect(zshSyntax.status == 0 && zshSyntax.stderr.isEmpty, "\(zshSyntax.stderr)")
        let empty = try TestDirectory(under: Binaries.shared.scratch, owner: getuid())
        defer { empty.remove() }
        let profiles = try zshCompletions(directory.path, "lpa-run --profile ", cwd: empty.path)
        for name in ["strict", "agent", "python-server"] { #expect(profiles.contains(name), "zsh offered \(profiles)") }
        #expect(try zshCompletions(directory.path, "lpa-run chec", cwd: empty.path).contains("check"))
        #expect(try zshCompletions(directory.path, "lpa-run check --f", cwd: empty.path).contains("--format"))
        #expect(try zshCompletions(directory.path, "lpa-run --format ", cwd: empty.path).sorted() == ["json", "text"])
    }

    /// What an interactive zsh (under zpty, with compinit and the script on fpath)
    /// offers when TAB is pressed after `line`: compadd is wrapped to write the
    /// candidates it is given to a file.
    func zshCompletions(_ fpath: String, _ line: String, cwd: String) throws -> [String] {
        let out = cwd + "/zsh-candidates"
        let program = #"""
            zmodload zsh/zpty || exit 3
            dir=$1 out=$2 line=$3
            : > $out
            zpty z zsh -f -i
            zpty -w z "PROMPT= ; fpath=($dir \$fpath); autoload -U compinit; compinit -u -D"
            zpty -w z "compadd () { if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "\$@"; return \$?; fi; typeset -a __hits; builtin compadd -A __hits "\$@"; local r=\$?; print -l -- \$__hits >> $out; print -- --done-- >> $out; return r; }"
            zpty -w z "bindkey '^I' complete-word"
            zpty -w -n z "$line"$'	'
            for i in {1..100}; do grep -q -- --done-- $out && break; sleep 0.1; done
            sleep 0.5
            zpty -d z
            """#
        let result = try shell(["/usr/bin/zsh", "-f", "-c", program, "zsh", fpath, out, line], cwd: cwd)
        #expect(result.status == 0, "zsh: \(result.stderr)")
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: out)
        return Array(Set(text.split(separator: "\n").map(String.init).filter { $0 != "--done--" && $0 != "zsh-candidates" }))
    }

    @Test("the man page renders with man -l without warnings and documents every option")
    func manPageRenders() throws {
        let directory = try TestDirectory(under: Binaries.shared.scratch, owner: getuid())
        defer { directory.remove() }
        let page = try generated(["man"], in: directory, name: "lpa-run.1")
        let child = try Spawned(["/usr/bin/man", "--warnings", "-l", page],
                                environment: ["PATH": "/usr/bin:/bin", "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80",
                                              "LANG": "C.UTF-8", "HOME": runner.home],
                                cwd: directory.path)
        let (status, stdout, stderr) = child.finish(seconds: 60)
        #expect(status == 0, "\(stderr)")
        #expect(stderr.isEmpty, "man warned: \(stderr)")
        for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "EXIT STATUS"] {
            #expect(stdout.contains(heading), "no \(heading)")
        }
        for option in ["--profile", "--dry-run", "--publish", "--connect", "--model", "--report-json"] {
            #expect(stdout.contains(option), "\(option) missing from the rendered page")
        }
        #expect(stdout.contains("lpa-run check"))
    }
}
