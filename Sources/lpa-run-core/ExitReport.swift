#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy
import LPASandbox

/// The short account lpa-run gives at exit (stderr with -v, when anything was blocked
/// or a name was looked up through the DNS sink; JSON with --report-json): how long, how it ended, what was refused (what
/// matters first: where it tried to connect, files, privileges), and what was served
/// through published ports. Refusals the plan expects (handled by design, like glibc's
/// clone3 → clone fallback) are counted on a line of their own and never make a run
/// "blocked": a report that always cries wolf teaches people to ignore it. The JSON
/// goes to a file opened up front (`HostOutputFile`, `.createNew`), never to a path
/// resolved at exit.
struct ExitReport {
    var duration: Double
    var status: Int32
    var audit: AuditReport
    var relay: RelayStats
    var tmpfsBytes: UInt64?
    /// The names it tried to resolve (the DNS sink); nil when the plan has no sink.
    var dns: DNSReport? = nil

    /// Names the text report lists; the JSON lists every name kept.
    static let namesShown = 10

    /// Anything worth telling without -v: a refusal, or a name it tried to resolve.
    var hasNews: Bool { audit.blocked > 0 || (dns?.questions ?? 0) > 0 }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private var seconds: String {
        let ms = Int((duration * 1000).rounded())
        return "\(ms / 1000).\(String(ms % 1000 + 1000).dropFirst()) s"
    }

    var text: String {
        var lines = ["lpa-run: report: ran \(seconds), exit status \(status)"]
        if !audit.destinations.isEmpty {
            var reached = audit.destinations.map { destination in
                destination.address + (Self.isNameLookup(destination.address) ? " (name lookup)" : "")
                    + (destination.count > 1 ? " ×\(destination.count)" : "")
            }
            if audit.otherDestinations > 0 { reached.append("\(audit.otherDestinations) more") }
            lines.append("  tried to reach: " + reached.joined(separator: ", "))
        }
        if let dns, dns.questions > 0 {
            // The names are the sandbox's choice: dig's escapes already, then no control
            // character reaches the terminal, and each is cut to 80 bytes.
            var asked = dns.names.prefix(Self.namesShown).map { name in
                Self.cut(TerminalText.printable(name.name), 80) + (name.count > 1 ? " ×\(name.count)" : "")
            }
            let hidden = dns.names.dropFirst(Self.namesShown).reduce(UInt64(0)) { $0 + $1.count } + dns.otherQuestions
            if hidden > 0 { asked.append("\(hidden) more lookups") }
            lines.append("  tried to resolve: " + asked.joined(separator: ", ") + " (answered NXDOMAIN by the DNS sink)")
            if dns.names.count >= DNSReportLimits.names && dns.otherQuestions > 0 {
                lines.append("  dns: only the first \(DNSReportLimits.names) distinct names are kept")
            }
        }
        if audit.blocked == 0 {
            lines.append("  blocked: nothing")
        } else {
            let kinds = audit.bySyscall.map { "\($0.name) \($0.count)" }.joined(separator: ", ")
            lines.append("  blocked \(audit.blocked): \(kinds)")
            for example in audit.examples { lines.append("    \(example)") }
            if audit.logSuppressed > 0 {
                lines.append("  audit log: \(audit.logSuppressed) calls counted but not written (rate or size limit)")
            }
        }
        if audit.expected > 0 {
            let kinds = audit.expectedBySyscall.map { "\($0.name) ×\($0.count)" }.joined(separator: ", ")
            lines.append("  expected, handled by design: \(kinds)")
        }
        if let tmpfsBytes {
            lines.append("  discarded: \(Self.size(tmpfsBytes)) written to the sandbox's tmpfs")
        }
        if relay.connectionsServed > 0 || relay.connectionsRefused > 0 {
            lines.append("  connections: \(relay.connectionsServed) served, \(relay.connectionsRefused) refused")
        }
        return lines.joined(separator: "\n")
    }

    /// Printable ASCII only (AuditText.json): the examples quote what the sandbox chose.
    var json: String {
        let kinds = audit.bySyscall.map { "\(AuditText.json($0.name)): \($0.count)" }.joined(separator: ", ")
        let examples = audit.examples.map(AuditText.json).joined(separator: ", ")
        let reached = audit.destinations.map {
            "{\"address\": \(AuditText.json($0.address)), \"count\": \($0.count), \"name_lookup\": \(Self.isNameLookup($0.address))}"
        }.joined(separator: ", ")
        let expectedKinds = audit.expectedBySyscall.map { "\(AuditText.json($0.name)): \($0.count)" }
            .joined(separator: ", ")
        let names = (dns?.names ?? []).map { name in
            "{\"name\": \(AuditText.json(name.name)), \"count\": \(name.count), \"types\": ["
                + name.types.map(AuditText.json).joined(separator: ", ") + "]}"
        }.joined(separator: ", ")
        let sink = dns.map { dns in
            "{\"questions\": \(dns.questions), \"malformed\": \(dns.malformed), \"dropped\": \(dns.dropped), "
                + "\"tcp_refused\": \(dns.tcpRefused), \"tcp_timed_out\": \(dns.tcpTimedOut), "
                + "\"names_kept_max\": \(DNSReportLimits.names), \"log_suppressed\": \(dns.logSuppressed)}"
        } ?? "null"
        return """
            {"duration_s": \(duration), "exit_status": \(status), \
            "tried_to_resolve": [\(names)], "tried_to_resolve_others": \(dns?.otherQuestions ?? 0), \
            "dns_sink": \(sink), \
            "tried_to_reach": [\(reached)], "tried_to_reach_others": \(audit.otherDestinations), \
            "blocked": {"total": \(audit.blocked), "by_syscall": {\(kinds)}, "examples": [\(examples)], \
            "log_suppressed": \(audit.logSuppressed)}, \
            "expected": {"total": \(audit.expected), "by_syscall": {\(expectedKinds)}}, \
            "connections": {"served": \(relay.connectionsServed), "refused": \(relay.connectionsRefused)}, \
            "tmpfs_bytes_discarded": \(tmpfsBytes.map(String.init) ?? "null")}

            """
    }

    /// Port 53: a DNS query, i.e. a name it tried to resolve (the name itself is payload,
    /// which lpa-run never reads).
    static func isNameLookup(_ address: String) -> Bool { address.hasSuffix(":53") }

    /// At most `limit` UTF-8 bytes, cut between characters.
    static func cut(_ text: String, _ limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var out = ""
        for character in text {
            if out.utf8.count + character.utf8.count > limit { break }
            out.append(character)
        }
        return out
    }

    static func size(_ bytes: UInt64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return "\((value * 10).rounded() / 10) \(units[unit])"
    }
}
