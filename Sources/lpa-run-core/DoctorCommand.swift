#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import LPASandbox

/// `lpa-run doctor`: can this host run lpa-run sandboxes, and what to do where it cannot.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check kernel and library support, and run the built-in profiles here.",
        discussion: "Prints yes/no with a fix for each no. Exits 1 when the default profile (strict) cannot run.")

    @Option(name: .long, help: "text (for people) or json.")
    var format: OutputFormat = .text

    static let builtinProfiles = ["strict", "agent", "gpu"]

    func exitStatus() -> Int32 {
        var checks = HostSupport.checks()
        for profile in Self.builtinProfiles { checks.append(Self.profileRuns(profile)) }
        switch format {
        case .json:
            let items = checks.map { c in
                "{\"check\":\(JSONString.literal(c.name)),\"ok\":\(c.ok),\"required\":\(c.required),"
                    + "\"detail\":\(JSONString.literal(c.detail)),\"fix\":\(c.fix.map(JSONString.literal) ?? "null")}"
            }
            print("[\n  " + items.joined(separator: ",\n  ") + "\n]")
        case .text:
            let width = checks.map(\.name.count).max() ?? 0
            for c in checks {
                let pad = String(repeating: " ", count: width - c.name.count)
                let answer = c.ok ? "yes" : (c.required ? "NO " : "no ")
                print("\(answer)  \(c.name)\(pad)  \(c.detail)")
                if let fix = c.fix { print("     \(String(repeating: " ", count: width))  fix: \(fix)") }
            }
        }
        return checks.contains { $0.name == "profile strict" && !$0.ok } ? 1 : 0
    }

    /// Runs `lpa-run --profile NAME /bin/true` for real: the only sure answer.
    static func profileRuns(_ profile: String) -> HostCheck {
        guard let me = CapturedProcess.selfExecutable() else {
            return HostCheck(name: "profile \(profile)", ok: false, detail: "cannot read /proc/self/exe", fix: "mount /proc")
        }
        let result = CapturedProcess.run([me, "--profile", profile, "-q", "/bin/true"],
                                         environment: HostFacts.environment())
        let firstError = result.stderr.split(separator: "\n").first.map(String.init) ?? "exit \(result.status)"
        return HostCheck(name: "profile \(profile)", ok: result.status == 0,
                         detail: result.status == 0 ? "runs (lpa-run --profile \(profile) /bin/true exited 0)"
                             : "exit \(result.status): \(firstError)",
                         fix: "see the error above and the other checks; `lpa-run -v --profile \(profile) /bin/true` says more",
                         required: profile == "strict")
    }
}

