import Foundation
import Testing

/// `lpa-run probe` and `lpa-run doctor`, run for real as root and unprivileged.
@Suite("probe and doctor", .serialized)
struct ProbeDoctorTests {
    /// strict, except that ptrace is allowed: one escape class deliberately open.
    static var ptraceAllowedProfile: String {
        Binaries.shared.profile(named: "strict-ptrace-allowed", """
            description: strict with ptrace allowed, to check that probe notices a weaker profile
            extends: strict
            seccomp:
              allow: [ptrace]
            """)
    }

    static func rows(_ result: Runner.Result) throws -> [[String: Any]] {
        let parsed = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return try #require(parsed as? [[String: Any]], "not an array of rows: \(result.stdout)")
    }

    static func row(_ rows: [[String: Any]], _ probe: String) -> [String: Any]? {
        rows.first { $0["probe"] as? String == probe }
    }

    @Test("probe --profile strict passes", arguments: Runner.all)
    func strictPasses(runner: Runner) throws {
        let result = try runner.run(["probe", "--profile", "strict"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("all "), "\(result.stdout)")
        #expect(!result.stdout.contains("FAIL"))
    }

    @Test("probe --format json lists every escape class as a passing row", arguments: Runner.all)
    func strictJSONRows(runner: Runner) throws {
        let result = try runner.run(["probe", "--profile", "strict", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try Self.rows(result)
        for name in EscapeClassTests.deniedByPolicy + [
            "clone3", "socket-netlink", "socket-packet", "capabilities", "no_new_privs", "seccomp-mode",
            "pid-namespace", "leaked-descriptors", "secret-variables", "core-dumps", "network-egress",
            "abstract-unix-socket", "home-canary", "write /usr", "write /etc",
        ] {
            let row = try #require(Self.row(rows, name), "row \(name) missing")
            #expect(row["intent"] as? String == "blocked", "\(name): \(row)")
            #expect(row["pass"] as? Bool == true, "\(name): \(row)")
            for key in ["probe", "intent", "result", "pass", "detail"] { #expect(row[key] != nil, "\(name) lacks \(key)") }
        }
        #expect(Self.row(rows, "socket-inet")?["intent"] as? String == "allowed")
        #expect(Self.row(rows, "ptrace")?["result"] as? String == "EPERM")
    }

    @Test("intent comes from the plan: a profile that allows ptrace passes with ptrace allowed", arguments: Runner.all)
    func allowedEscapeClassMatchesItsOwnIntent(runner: Runner) throws {
        let result = try runner.run(["probe", "--profile", Self.ptraceAllowedProfile, "--format", "json"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let ptrace = try #require(Self.row(try Self.rows(result), "ptrace"))
        #expect(ptrace["intent"] as? String == "allowed")
        #expect(ptrace["result"] as? String == "ok")
        #expect(ptrace["pass"] as? Bool == true)
    }

    @Test("--expect strict fails a profile that allows an escape class, and the row says why", arguments: Runner.all)
    func weakerThanBaselineFails(runner: Runner) throws {
        let text = try runner.run(["probe", "--profile", Self.ptraceAllowedProfile, "--expect", "strict"])
        #expect(text.status == 1, "\(text.stdout)\n\(text.stderr)")
        let line = text.stdout.split(separator: "\n").first { $0.contains(" ptrace ") }
        #expect(line?.hasPrefix("FAIL") == true, "\(text.stdout)")
        #expect(line?.contains("succeeded but the profile blocks it") == true, "\(line ?? "")")

        let json = try runner.run(["probe", "--profile", Self.ptraceAllowedProfile, "--expect", "strict", "--format", "json"])
        #expect(json.status == 1)
        let rows = try Self.rows(json)
        let failed = rows.filter { $0["pass"] as? Bool == false }.compactMap { $0["probe"] as? String }
        #expect(failed == ["ptrace"], "\(failed)")
    }

    @Test("probe --help documents --expect")
    func helpDocumentsExpect() throws {
        let result = try Runner(who: .caller).run(["probe", "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("--expect"))
        let words = result.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        #expect(words.contains("grew weaker than a baseline"))
    }

    static let doctorChecks = [
        "user namespaces", "seccomp filters", "seccomp user notification", "Landlock", "tmpfs noswap",
        "cgroup v2", "delegated cgroup subtree", "pidfd", "close_range", "libseccomp", "libcap",
        "profile strict", "profile agent", "profile gpu",
    ]

    @Test("doctor exits 0 here and answers every check, with a fix for each no", arguments: Runner.all)
    func doctorText(runner: Runner) throws {
        let result = try runner.run(["doctor"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        for check in Self.doctorChecks {
            let line = lines.first { $0.dropFirst(5).hasPrefix(check + " ") }
            #expect(line != nil, "no line for \(check):\n\(result.stdout)")
        }
        #expect(lines.contains { $0.hasPrefix("yes  profile strict ") }, "\(result.stdout)")
        for (i, line) in lines.enumerated() where line.hasPrefix("no") || line.hasPrefix("NO") {
            #expect(i + 1 < lines.count && lines[i + 1].contains("fix: "), "no fix after: \(line)")
        }
    }

    /// The counterpart of `doctorText`: inside lpa-run's own strict sandbox no user
    /// namespace can be made, so the required `profile strict` check fails and so does doctor.
    @Test("doctor exits 1 where the strict profile cannot run, and says so", arguments: Runner.all)
    func doctorFailsWhereStrictCannotRun(runner: Runner) throws {
        // A debug lpa-run loads the Swift runtime from the toolchain (the shipped one is static).
        let profile = Binaries.shared.profile(named: "doctor-inside", """
            extends: strict
            filesystem:
              read-only:
                - \(Binaries.shared.directory)
                - {path: /opt/swift/usr/lib/swift/linux, optional: true}
            """)
        let result = try runner.run(["--profile", profile, Binaries.shared.lpaRun, "doctor"])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        let strictLine = result.stdout.split(separator: "\n").first { $0.contains("profile strict") } ?? ""
        #expect(strictLine.contains("NO"), "\(result.stdout)")
    }

    @Test("doctor --format json parses", arguments: Runner.all)
    func doctorJSON(runner: Runner) throws {
        let result = try runner.run(["doctor", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let parsed = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        let checks = try #require(parsed as? [[String: Any]])
        #expect(Set(checks.compactMap { $0["check"] as? String }).isSuperset(of: Self.doctorChecks))
        for check in checks {
            #expect(check["ok"] is Bool && check["detail"] is String, "\(check)")
            if check["ok"] as? Bool == false { #expect(check["fix"] is String, "\(check)") }
        }
        #expect(checks.first { $0["check"] as? String == "profile strict" }?["ok"] as? Bool == true)
    }
}
