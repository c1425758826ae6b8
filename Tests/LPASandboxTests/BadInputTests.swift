import Foundation
import Testing

/// Every run option with malformed values, read from `lpa-run --help` (which is derived
/// from the one option table, so a new option is covered without touching this file):
/// lpa-run either accepts the value or exits 125 naming the option; it never crashes,
/// hangs, prints a control character, or writes anything but the files an option names.
@Suite("bad input: every run option")
struct BadInputTests {
    struct Option: Sendable {
        var names: [String]
        var takesValue: Bool
        var name: String { names.last! }
    }

    /// The OPTIONS section of --help: "  -p, --publish <VALUE>   help".
    static func options(_ runner: Runner) throws -> [Option] {
        let help = try runner.run(["--help"]).stdout
        var options: [Option] = []
        var inOptions = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("OPTIONS:") { inOptions = true; continue }
            if inOptions, !line.isEmpty, !line.hasPrefix(" ") { break }
            guard inOptions, line.hasPrefix("  -") else { continue }
            let label = line.dropFirst(2).components(separatedBy: "  ").first ?? ""
            let takesValue = label.contains(" <")
            let names = (label.components(separatedBy: " <").first ?? "").components(separatedBy: ", ")
            options.append(Option(names: names, takesValue: takesValue))
        }
        return options
    }

    /// Malformed values; "@NOT-UTF8@" becomes the byte 0xff in argv (NUL cannot be in argv).
    static let values = ["", String(repeating: "x", count: 100_000), "-1", "0", "../../../etc/passwd", "relative/dir",
                         "\u{FFFD}", "=", ":::", "-", "--", "\u{1b}[31mred", "@NOT-UTF8@", "/"]

    /// Options whose value is a file lpa-run writes.
    static let writers: Set<String> = ["--audit-log", "--report-json"]

    /// Runs lpa-run with `arguments` (0xff where "@NOT-UTF8@" stands) in `cwd`.
    static func run(_ runner: Runner, _ arguments: [String], cwd: String) throws -> Runner.Result {
        let exec = "import os,sys; a=[x.encode() for x in sys.argv[1:]]; a=[b'\\xff' if x==b'@NOT-UTF8@' else x for x in a]; os.execv(a[0], a)"
        // A home of the test's own: the runners' shared homes see other suites' files.
        let child = try Spawned(["/usr/bin/python3", "-c", exec] + runner.command(arguments),
                                environment: runner.environment(extra: ["HOME": cwd + "-home"]), cwd: cwd)
        let (status, stdout, stderr) = child.finish(seconds: 60)
        return Runner.Result(status: status, stdout: stdout, stderr: stderr)
    }

    /// A working directory per test and user: the suite's tests run in parallel.
    static func scratch(_ runner: Runner, _ test: String) throws -> String {
        let dir = Binaries.shared.scratch + "/bad-input-\(test)-\(runner.who.rawValue)"
        for path in [dir, dir + "-home"] {
            try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o777])
        }
        return dir
    }

    static func listing(_ dir: String) -> [String] {
        (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? []).sorted()
    }

    /// What every answer must be: accepted, or 125 naming the option; printable.
    static func judge(_ result: Runner.Result, _ option: Option, _ what: String) {
        #expect(result.status == 0 || result.status == 125, "\(what): status \(result.status)\n\(result.stderr.prefix(600))")
        if result.status == 125 {
            // The option by name, or the file:line:col of the profile it named.
            let positioned = result.stderr.range(of: #":[0-9]+:[0-9]+: error: "#, options: .regularExpression) != nil
            #expect(option.names.contains { result.stderr.contains($0) } || result.stderr.contains("command line") || positioned,
                    "\(what): the error does not name the option:\n\(result.stderr.prefix(600))")
        }
        for scalar in (result.stderr).unicodeScalars
        where (scalar.value < 0x20 && scalar != "\n" && scalar != "\t") || (0x7f...0x9f).contains(scalar.value) {
            Issue.record("\(what): stderr carries control character \(scalar.value)")
            break
        }
    }

    @Test("each option with each malformed value: accepted or 125 naming it, never more", arguments: Runner.all)
    func malformedValues(runner: Runner) throws {
        let options = try Self.options(runner).filter(\.takesValue)
        #expect(options.count >= 12, "--help lists the value options")
        let cwd = try Self.scratch(runner, "values")
        let homeBefore = Self.listing(cwd + "-home")
        for option in options {
            for value in Self.values {
                let what = "\(option.name) \(value.prefix(20).debugDescription)"
                let dry = try Self.run(runner, [option.name, value, "--dry-run", "/bin/true"], cwd: cwd)
                Self.judge(dry, option, what + " --dry-run")
                #expect(Self.listing(cwd).isEmpty, "\(what) --dry-run wrote \(Self.listing(cwd))")
                guard dry.status == 0 else { continue }
                // Accepted by the compiler: the real run must start and end cleanly too.
                let real = try Self.run(runner, [option.name, value, "/bin/true"], cwd: cwd)
                Self.judge(real, option, what)
                if !Self.writers.contains(option.name) {
                    #expect(Self.listing(cwd).isEmpty, "\(what) wrote \(Self.listing(cwd))")
                }
                // A fresh working directory (what --audit-log/--report-json wrote goes), the same home.
                try? FileManager.default.removeItem(atPath: cwd)
                try FileManager.default.createDirectory(atPath: cwd, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o777])
            }
        }
        // A run may keep its socket walks, seccomp programs and launch records (lpa-run's own
        // cache); nothing else may appear.
        let remembered: Set<String> = [".cache", ".cache/lpa-run", ".cache/lpa-run/socket-walks.v1",
                                       ".cache/lpa-run/seccomp-filters.v1"]
        let isRecord = { (path: String) in path.hasPrefix(".cache/lpa-run/launch-") && path.hasSuffix(".v1") }
        #expect(Self.listing(cwd + "-home").filter { !remembered.contains($0) && !isRecord($0) } == homeBefore,
                "the home changed")
    }

    @Test("every option repeated, and flags that pull in opposite directions", arguments: Runner.all)
    func repeatedAndConflicting(runner: Runner) throws {
        let cwd = try Self.scratch(runner, "repeated")
        for option in try Self.options(runner) where option.name != "--help" {
            let twice = option.takesValue ? [option.name, "x", option.name, "y"] : [option.name, option.name]
            let result = try Self.run(runner, twice + ["--dry-run", "/bin/true"], cwd: cwd)
            Self.judge(result, option, "\(option.name) twice")
        }
        let pairs = [["--quiet", "--verbose"], ["--format", "json", "--format", "text"],
                     ["--profile", "strict", "--profile", "agent"], ["--ro", "/usr:/data", "--rw", "/usr:/data"],
                     ["--tmpfs", "/data", "--ro", "/usr:/data"]]
        for pair in pairs {
            let result = try Self.run(runner, pair + ["--dry-run", "/bin/true"], cwd: cwd)
            Self.judge(result, Option(names: [pair[0], pair[pair.count - 2]], takesValue: true), pair.joined(separator: " "))
        }
        #expect(Self.listing(cwd).isEmpty)
    }
}
