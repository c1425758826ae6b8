import Foundation
@testable import LPASandbox
import Testing
@testable import lpa_run_core

/// The exit report's wording: it leads with where the program tried to connect, counts
/// refusals handled by design on their own line, and says "blocked" only when
/// something was.
struct ExitReportTests {
    static func report(_ audit: AuditReport) -> ExitReport {
        ExitReport(duration: 1.5, status: 0, audit: audit, relay: RelayStats(), tmpfsBytes: nil)
    }

    @Test func onlyExpectedRefusalsAreNotBlocked() throws {
        var audit = AuditReport()
        audit.expected = 13
        audit.expectedBySyscall = [("clone3", 13)]
        let report = Self.report(audit)
        #expect(report.text == """
            lpa-run: report: ran 1.500 s, exit status 0
              blocked: nothing
              expected, handled by design: clone3 ×13
            """)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        #expect((json["blocked"] as? [String: Any])?["total"] as? Int == 0)
        #expect(((json["expected"] as? [String: Any])?["by_syscall"] as? [String: Any])?["clone3"] as? Int == 13)
    }

    @Test func destinationsLeadTheReport() throws {
        var audit = AuditReport()
        audit.blocked = 5
        audit.bySyscall = [("connect", 4), ("ptrace", 1)]
        audit.examples = ["connect 203.0.113.7:443 (ENETUNREACH) by pid 2 /usr/bin/curl"]
        audit.destinations = [("203.0.113.7:443", 1), ("10.0.0.2:53", 3)]
        audit.otherDestinations = 2
        let lines = Self.report(audit).text.split(separator: "\n")
        #expect(lines[1] == "  tried to reach: 203.0.113.7:443, 10.0.0.2:53 (name lookup) ×3, 2 more")
        #expect(lines[2] == "  blocked 5: connect 4, ptrace 1")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(Self.report(audit).json.utf8)) as? [String: Any])
        let reached = try #require(json["tried_to_reach"] as? [[String: Any]])
        #expect(reached.count == 2)
        #expect(reached[1]["address"] as? String == "10.0.0.2:53")
        #expect(reached[1]["name_lookup"] as? Bool == true)
        #expect(json["tried_to_reach_others"] as? Int == 2)
    }
}
