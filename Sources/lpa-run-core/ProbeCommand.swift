#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import LPAPolicy
import LPASandbox

/// `lpa-run probe`: runs lpa-probe in sandboxes built from a profile and checks every
/// escape class against what the profile's plan intends (see PlanIntent).
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Try every escape class inside a sandbox built from a profile; exit 0 when all match its intent.",
        discussion: """
            Each row says what was tried, what the profile's plan intends (blocked/allowed), what \
            happened, and pass/FAIL. Intent comes from the compiled plan, so a profile that allows \
            something is checked for it working. Every probe is harmless when not blocked. \
            Exit 0 when every row passes, 1 otherwise, \(LPAExitCode.ownError) when the probe cannot run.
            """)

    @Option(name: .long, help: ArgumentHelp("Profile to probe.", valueName: "NAME|FILE"))
    var profile: String = "strict"

    @Option(name: .long, help: ArgumentHelp(
        "Judge the results against another profile's intent instead: use it in CI to catch a "
            + "profile that grew weaker than a baseline (e.g. --expect strict).", valueName: "NAME|FILE"))
    var expect: String?

    @Option(name: .long, help: ArgumentHelp(
        "namespaces (default) or landlock: probe the degraded mode; rows only namespaces could block are "
            + "expected allowed and reported as losses.", valueName: "MODE"))
    var isolation: IsolationMode?

    @Option(name: .long, help: "text (for people) or json (an array of {probe, intent, result, pass, detail}).")
    var format: OutputFormat = .text

    struct Row {
        var probe: String
        var intent: String
        var result: String
        var pass: Bool
        var detail: String
    }

    /// A fake secret put into lpa-run's environment: the sandbox must not see it.
    static let secretName = "OPENAI_API_KEY"

    func exitStatus() -> Int32 {
        guard let me = CapturedProcess.selfExecutable(), let probe = Self.findProbe(beside: me) else {
            printError("lpa-run probe: error: lpa-probe not found beside lpa-run or in ../libexec/lpa-run/")
            return LPAExitCode.ownError
        }
        var context = HostFacts.context()
        context.environment[Self.secretName] = "sk-lpa-probe-fake-\(getpid())"
        let compiler = PolicyCompiler(loader: FileProfileLoader(environment: context.environment, cwd: context.cwd),
                                      context: context)
        let command = CommandPlan(argv: [probe, "syscalls"], executable: probe)
        let runPlan: IsolationPlan, intentPlan: IsolationPlan
        do {
            let overrides = CommandLineOverrides(isolation: isolation)
            runPlan = try compiler.compile(profile: profile, command: command, overrides: overrides).plan
            if let expect {
                intentPlan = try compiler.compile(profile: expect, command: command, overrides: overrides).plan
            } else {
                intentPlan = runPlan
            }
        } catch {
            printError(error.description)
            return LPAExitCode.ownError
        }
        var session = ProbeSession(lpaRun: me, probe: probe, profile: profile, environment: context.environment,
                                   cwd: context.cwd, run: PlanIntent(plan: runPlan), intent: PlanIntent(plan: intentPlan))
        let rows: [Row]
        do {
            rows = try session.runAll()
        } catch {
            printError("lpa-run probe: error: \(error.message)")
            return LPAExitCode.ownError
        }
        print(format == .json ? Self.json(rows) : Self.text(rows, profile: profile, expect: expect), terminator: "")
        return rows.allSatisfy(\.pass) ? 0 : 1
    }

    /// Beside the binary (a build directory), or where `make install` puts it.
    static func findProbe(beside executable: String) -> String? {
        let dir = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        for candidate in [dir + "/lpa-probe", dir + "/../libexec/lpa-run/lpa-probe"]
        where access(candidate, X_OK) == 0 {
            return candidate
        }
        return nil
    }

    static func text(_ rows: [Row], profile: String, expect: String?) -> String {
        let w0 = rows.map(\.probe.count).max() ?? 0, w2 = rows.map(\.result.count).max() ?? 0
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        var out = "probe profile \(profile)" + (expect.map { ", intent of \($0)" } ?? "") + "\n"
        for r in rows {
            out += "\(r.pass ? "pass" : "FAIL")  \(pad(r.probe, w0))  \(pad(r.intent, 7))  \(pad(r.result, w2))  \(r.detail)\n"
        }
        let failed = rows.filter { !$0.pass }.count
        out += failed == 0 ? "all \(rows.count) probes match the profile's intent\n"
            : "\(failed) of \(rows.count) probes do not match the profile's intent\n"
        return out
    }

    static func json(_ rows: [Row]) -> String {
        let items = rows.map { r in
            "{\"probe\":\(JSONString.literal(r.probe)),\"intent\":\(JSONString.literal(r.intent)),\"result\":\(JSONString.literal(r.result)),"
                + "\"pass\":\(r.pass),\"detail\":\(JSONString.literal(r.detail))}"
        }
        return "[\n  " + items.joined(separator: ",\n  ") + "\n]\n"
    }
}

struct ProbeError: Error {
    var message: String
}

extension IsolationMode: ExpressibleByArgument {}
