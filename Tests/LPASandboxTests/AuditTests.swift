import Foundation
import Testing

/// The audit log and the exit report: every blocked action recorded with metadata.
@Suite("audit log and exit report", .serialized)
struct AuditTests {
    /// A fresh directory the runner's user may write its log and report into.
    static func outputDirectory(for runner: Runner, _ name: String) throws -> String {
        let dir = Binaries.shared.directory + "/\(name)-\(runner.who.rawValue)"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chown(dir, runner.who == .nobody ? 65534 : getuid(), runner.who == .nobody ? 65534 : getgid())
        return dir
    }

    @Test("connecting out, ptrace and mount each leave an audit log entry and appear in the report",
          arguments: Runner.all)
    func blockedActionsAreRecorded(runner: Runner) throws {
        let dir = try Self.outputDirectory(for: runner, "audit")
        let log = dir + "/audit.jsonl", reportPath = dir + "/report.json"

        let result = try runner.probe(["misbehave"], options: ["--audit-log", log, "--report-json", reportPath])
        #expect(result.status == 0, "\(result.stderr)")
        // The sandbox refused all three, each with the plan's outcome.
        #expect(result.fields["connect-out"] == "ENETUNREACH")
        #expect(result.fields["ptrace"] == "EPERM")
        #expect(result.fields["mount"] == "EPERM")

        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        let entries = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let bySyscall = Dictionary(entries.map { (($0["syscall"] as? String) ?? "?", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(entries.count == 3, "\(lines)")
        #expect(bySyscall["connect"]?["detail"] as? String == "203.0.113.7:443")
        #expect(bySyscall["connect"]?["errno"] as? String == "ENETUNREACH")
        #expect(bySyscall["ptrace"]?["errno"] as? String == "EPERM")
        #expect((bySyscall["mount"]?["detail"] as? String)?.contains("/nonexistent-lpa-probe") == true)
        for entry in entries {
            #expect((entry["exe"] as? String)?.hasSuffix("/lpa-probe") == true)
            #expect(entry["pid"] as? Int != nil && entry["time"] as? String != nil)
        }

        // Something was blocked, so the report is on stderr without -v, and in the JSON file.
        #expect(result.stderr.contains("blocked 3"), "\(result.stderr)")
        #expect(result.stderr.contains("203.0.113.7:443"))
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reportPath))) as? [String: Any])
        #expect(report["exit_status"] as? Int == 0)
        #expect((report["blocked"] as? [String: Any])?["total"] as? Int == 3)
    }

    /// sendto with an address is audited like connect; its payload (what a prompt or an
    /// output would be) never reaches the log or the report: metadata only.
    @Test("sendto out is refused and logged with its address, never its payload", arguments: Runner.all)
    func sendtoLoggedWithoutPayload(runner: Runner) throws {
        let dir = try Self.outputDirectory(for: runner, "sendto")
        let log = dir + "/audit.jsonl", reportPath = dir + "/report.json"
        let canary = "lpa-payload-canary-\(getpid())"
        let result = try runner.probe(["sendto-out", canary], options: ["--audit-log", log, "--report-json", reportPath])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.fields["sendto-out"] == "ENETUNREACH", "\(result.stdout)")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        let entries = try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let sendto = try #require(entries.first { $0["syscall"] as? String == "sendto" }, "\(text)")
        #expect(sendto["detail"] as? String == "203.0.113.7:53")
        #expect(sendto["errno"] as? String == "ENETUNREACH")
        let report = try String(contentsOfFile: reportPath, encoding: .utf8)
        for (name, output) in [("log", text), ("report", report), ("stderr", result.stderr)] {
            #expect(!output.contains(canary), "the payload reached the \(name)")
        }
    }

    @Test("a run that blocks nothing prints no report unless -v")
    func quietWhenNothingBlocked() throws {
        let runner = Runner(who: .caller)
        let plain = try runner.run(["/bin/true"])
        #expect(plain.status == 0)
        #expect(!plain.stderr.contains("report"))
        let verbose = try runner.run(["-v", "/bin/true"])
        #expect(verbose.stderr.contains("lpa-run: report: ran"), "\(verbose.stderr)")
        #expect(verbose.stderr.contains("blocked: nothing"))
    }

    @Test("the report counts the bytes written to the sandbox's tmpfs and discarded", arguments: Runner.all)
    func discardedBytesReported(runner: Runner) throws {
        let reportPath = try Self.outputDirectory(for: runner, "discard") + "/report.json"
        let result = try runner.run(["--report-json", reportPath, "-v", "/bin/sh", "-c",
                                     "head -c 3000000 /dev/zero > /tmp/scratch"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("discarded:"))
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reportPath))) as? [String: Any])
        let discarded = report["tmpfs_bytes_discarded"] as? Int ?? 0
        #expect(discarded >= 3_000_000, "\(report)")
    }
}
