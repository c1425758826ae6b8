import Foundation
import Testing

/// `lpa-run explain` on the built binary, as root and as an ordinary user.
@Suite("explain command")
struct ExplainCommandTests {
    @Test("a profile with network: host shows phoning home open, with the line that opened it", arguments: Runner.all)
    func hostNetworkProfile(runner: Runner) throws {
        let profile = Binaries.shared.profile(named: "explain-host-\(runner.who.rawValue)", """
            description: weakened on purpose
            extends: strict
            network:
              mode: host
            """)
        let text = try runner.run(["explain", "--profile", profile])
        #expect(text.status == 0, "\(text.stderr)")
        let phoneHome = text.stdout.split(separator: "\n").drop { !$0.contains("Phoning home") }
        #expect(phoneHome.first?.hasPrefix("[OPEN]") == true, "\(text.stdout)")
        #expect(phoneHome.dropFirst().first?.contains("[\(profile):4]") == true, "\(text.stdout)")

        let gated = try runner.run(["explain", "--profile", profile, "--fail-on-open"])
        #expect(gated.status == 1)

        let json = try runner.run(["explain", "--profile", profile, "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let risks = try #require(report["risks"] as? [[String: Any]])
        let entry = try #require(risks.first { $0["risk"] as? String == "phone-home" })
        #expect(entry["verdict"] as? String == "open")
        let gap = try #require((entry["gaps"] as? [[String: Any]])?.first)
        #expect((gap["origin"] as? [String: Any])?["line"] as? Int == 4)
    }

    @Test("strict leaves no risk open; a profile that does not compile exits 125", arguments: Runner.all)
    func strictAndBrokenProfiles(runner: Runner) throws {
        let strict = try runner.run(["explain", "--fail-on-open"])
        #expect(strict.status == 0, "\(strict.stdout)\(strict.stderr)")
        #expect(strict.stdout.contains("0 open"))
        let broken = Binaries.shared.profile(named: "explain-broken-\(runner.who.rawValue)", "netwrok: {}\n")
        let failed = try runner.run(["explain", "--profile", broken])
        #expect(failed.status == 125)
        #expect(failed.stderr.contains(":1:1: error: unknown key 'netwrok'"), "\(failed.stderr)")
    }
}
