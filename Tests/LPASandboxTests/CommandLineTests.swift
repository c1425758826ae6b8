import Foundation
import Testing
import LPAPolicy

/// The exact command-line forms the README and scripts depend on, run on the built binary.
@Suite("command line")
struct CommandLineTests {
    let runner = Runner(who: .caller)

    @Test("--dry-run --format json prints the plan of an unresolved command, warns, exits 0")
    func dryRunUnresolvedCommand() throws {
        let result = try runner.run(["--profile", "strict", "--dry-run", "--format", "json",
                                     "llama-server-missing-\(getpid())", "-m", "/tmp/m.gguf", "--port", "8080"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("warning"))
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(plan["version"] as? Int == IsolationPlan.formatVersion)
        let command = try #require(plan["command"] as? [String: Any])
        #expect(command["resolved"] as? Bool == false)
        #expect((command["argv"] as? [String])?.dropFirst() == ["-m", "/tmp/m.gguf", "--port", "8080"])
        for key in ["namespaces", "mounts", "network", "seccomp", "capabilities", "noNewPrivs", "rlimits",
                    "environment", "hostname", "profile"] {
            #expect(plan[key] != nil, "plan lacks \(key)")
        }
    }

    @Test("options after the command belong to the command, without --")
    func commandArgumentsPassThrough() throws {
        let result = try runner.run(["--profile", "strict", "/bin/echo", "--profile", "-p", "--dry-run"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "--profile -p --dry-run\n")
    }

    @Test("the text plan is for people: grouped and short")
    func dryRunText() throws {
        let result = try runner.run(["--dry-run", "/bin/true"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("/bin/true"))
        #expect(result.stdout.lowercased().contains("seccomp"))
    }

    @Test("check exits 1 on a misspelled key, with file:line:col and a suggestion")
    func checkMisspelledKey() throws {
        let profile = Binaries.shared.profile(named: "check-typo", """
            description: typo
            netwrok:
              mode: none
            """)
        let result = try runner.run(["check", profile])
        #expect(result.status == 1)
        #expect(result.stderr.contains("check-typo.yaml:2:1: error: unknown key 'netwrok' (did you mean 'network'?)"),
                "\(result.stderr)")
    }

    @Test("check exits 0 on valid profiles")
    func checkValid() throws {
        let profile = Binaries.shared.profile(named: "check-ok", "description: fine\nextends: strict\n")
        let result = try runner.run(["check", profile])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test("profiles lists the built-in profiles with descriptions")
    func listProfiles() throws {
        let result = try runner.run(["profiles"])
        #expect(result.status == 0)
        for name in ["strict", "agent", "gpu"] {
            #expect(result.stdout.contains(name))
        }
        #expect(result.stdout.contains("builtin:strict"))
    }

    @Test("`lpa-run -- check` runs a program named check rather than the subcommand")
    func subcommandNameAsCommand() throws {
        let result = try runner.run(["--", "check"])
        #expect(result.status == 127)
    }

    @Test("an unknown option is lpa-run's own error: 125")
    func unknownOption() throws {
        let result = try runner.run(["--no-such-option", "/bin/true"])
        #expect(result.status == 125)
    }

    @Test("--help teaches the command forms and exit codes")
    func help() throws {
        let result = try runner.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("lpa-run [OPTIONS] [--] COMMAND [ARG...]"))
        #expect(result.stdout.contains("--dry-run"))
        #expect(result.stdout.contains("127"))
    }

    @Test("--hostname sets the hostname inside; without it the plan's default", arguments: Runner.all)
    func hostnameOption(runner: Runner) throws {
        let named = try runner.run(["--hostname", "lpa-test-host", "/bin/hostname"])
        #expect(named.status == 0 && named.stdout == "lpa-test-host\n", "\(named.stdout)\(named.stderr)")
        let plain = try runner.run(["/bin/hostname"])
        #expect(plain.stdout == "lpa-sandbox\n", "\(plain.stdout)\(plain.stderr)")
    }

    @Test("--env passes a secret-looking host variable only when named, and sets NAME=VALUE", arguments: Runner.all)
    func envOption(runner: Runner) throws {
        let secret = ["OPENAI_API_KEY": "sk-lpa-test-secret"]
        let dropped = try runner.run(["/usr/bin/env"], env: secret)
        #expect(!dropped.stdout.contains("sk-lpa-test-secret"), "\(dropped.stdout)")
        let passed = try runner.run(["--env", "OPENAI_API_KEY", "--env", "LPA_SET=value-set", "/usr/bin/env"], env: secret)
        #expect(passed.stdout.contains("OPENAI_API_KEY=sk-lpa-test-secret\n"), "\(passed.stdout)")
        #expect(passed.stdout.contains("LPA_SET=value-set\n"), "\(passed.stdout)")
    }

    @Test("-q silences lpa-run's warnings and report, not the command")
    func quietOption() throws {
        let runner = Runner(who: .caller)
        let missing = "lpa-missing-\(getpid())"
        let loud = try runner.run(["--dry-run", missing])
        #expect(loud.stderr.contains("warning"), "\(loud.stderr)")
        let quiet = try runner.run(["-q", "--dry-run", missing])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
        let blocked = try runner.run(["-q", Binaries.shared.probe, "misbehave"])
        #expect(!blocked.stderr.contains("report"), "\(blocked.stderr)")
        #expect(blocked.stdout.contains("ptrace EPERM"), "\(blocked.stdout)")
    }

    @Test("option errors name the option and exit 125", arguments: [
        (["--profile"], "missing value for '--profile'"),
        (["--bogus", "/bin/true"], "unknown option '--bogus'"),
        (["--format", "yaml", "--dry-run", "/bin/true"], "bad value 'yaml' for '--format'"),
        (["-p", "99999:80", "/bin/true"], "--publish"),
    ])
    func optionErrorsNameTheOption(arguments: [String], message: String) throws {
        let result = try Runner(who: .caller).run(arguments)
        #expect(result.status == 125)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }
}
