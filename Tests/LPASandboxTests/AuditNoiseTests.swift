import Foundation
import Testing

/// The exit report without noise: refusals the plan expects (glibc's clone3 → clone
/// fallback, met by every threaded program) are counted apart and never make a run
/// "blocked"; a real attempt to connect out still does, and leads the report.
@Suite("audit without noise", .serialized)
struct AuditNoiseTests {
    static func jsonLines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test("llama-server serving the tiny model under strict ends with no blocked report; clone3 is counted as expected",
          arguments: Runner.all)
    func llamaServerIsNotBlocked(runner: Runner) throws {
        let llama = try Llama.get()
        let dir = try AuditTests.outputDirectory(for: runner, "audit-noise")
        let log = dir + "/audit.jsonl", reportPath = dir + "/report.json"
        let sandbox = try PublishedSandbox(runner: runner, ready: .http(path: "/health"), within: 180) { port in
            ["--profile", "strict", "--model", llama.model, "--audit-log", log, "--report-json", reportPath,
             "-p", "127.0.0.1:\(port):8080",
             llama.server, "-m", llama.model, "--host", "127.0.0.1", "--port", "8080"]
        }
        defer { sandbox.terminate() }
        let completion = try LoopbackHTTP.request(port: sandbox.port, method: "POST", path: "/completion",
                                                  body: #"{"prompt":"hello","n_predict":4,"temperature":0}"#)
        #expect(completion.status == 200)
        let status = try sandbox.stop()
        #expect(status == 0, "\(sandbox.lpaRun.stderr.suffix(800))")

        let stderr = sandbox.lpaRun.stderr
        #expect(!stderr.contains("blocked"), "a well-behaved server was reported blocked: \(stderr.suffix(1200))")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reportPath))) as? [String: Any])
        let blocked = try #require(report["blocked"] as? [String: Any])
        #expect(blocked["total"] as? Int == 0, "\(report)")
        let expected = try #require(report["expected"] as? [String: Any])
        let clone3 = (expected["by_syscall"] as? [String: Any])?["clone3"] as? Int ?? 0
        #expect(clone3 > 0, "llama-server starts threads: glibc tries clone3 first; \(report)")
        // The log agrees with the report: every entry is marked expected, none blocked.
        let entries = try Self.jsonLines(log)
        #expect(!entries.isEmpty)
        for entry in entries where entry["action"] as? String != "suppressed" {
            #expect(entry["action"] as? String == "expected", "\(entry)")
        }
    }

    @Test("a program that connects out is still reported blocked, the connection first", arguments: Runner.all)
    func connectingOutIsReportedFirst(runner: Runner) throws {
        let dir = try AuditTests.outputDirectory(for: runner, "audit-lead")
        let reportPath = dir + "/report.json"
        let result = try runner.probe(["misbehave"], options: ["--report-json", reportPath])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.fields["connect-out"] == "ENETUNREACH")
        let lines = result.stderr.split(separator: "\n")
        let top = try #require(lines.firstIndex { $0.hasPrefix("lpa-run: report:") }, "\(result.stderr)")
        // It leads with where the program tried to connect.
        #expect(lines.count > top + 1 && lines[top + 1] == "  tried to reach: 203.0.113.7:443", "\(result.stderr)")
        let header = try #require(lines.firstIndex { $0.contains("blocked 3:") }, "\(result.stderr)")
        // The summary names the connection first, and so does the first example.
        #expect(lines[header].contains("blocked 3: connect 1"), "\(lines[header])")
        #expect(lines.count > header + 1 && lines[header + 1].contains("connect 203.0.113.7:443"), "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reportPath))) as? [String: Any])
        let examples = (report["blocked"] as? [String: Any])?["examples"] as? [String] ?? []
        #expect(examples.first?.hasPrefix("connect 203.0.113.7:443") == true, "\(examples)")
        let reached = report["tried_to_reach"] as? [[String: Any]] ?? []
        #expect(reached.first?["address"] as? String == "203.0.113.7:443", "\(report)")
    }

    /// A datagram to port 53 is a name lookup: the report says so (the name itself is
    /// payload and never read).
    @Test("a DNS query out is reported as a name lookup", arguments: Runner.all)
    func nameLookupIsNamed(runner: Runner) throws {
        let result = try runner.probe(["sendto-out", "lpa-noise-\(getpid())"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("tried to reach: 203.0.113.7:53 (name lookup)"), "\(result.stderr)")
    }
}
