import FoundationEssentials

/// `lpa-run explain` output: text for people, JSON for scripts (the same values).
public enum CoverageFormatter {
    public struct Report: Codable, Sendable {
        public var profile: String
        public var chain: [String]
        public var risks: [RiskCoverage]
    }

    public static func report(_ plan: IsolationPlan, _ risks: [RiskCoverage]) -> Report {
        Report(profile: plan.profile.chain.first?.name ?? "", chain: plan.profile.chain.map(\.source), risks: risks)
    }

    public static func json(_ report: Report) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(report) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func text(_ report: Report) -> String {
        func from(_ origin: Origin?) -> String { origin.map { "  [\($0)]" } ?? "" }
        var out = ["profile \(report.profile) (\(report.chain.joined(separator: " <- ")))", ""]
        for risk in report.risks {
            out.append("\(mark(risk.verdict)) \(risk.title)")
            for setting in risk.answeredBy { out.append("    + \(setting.text)\(from(setting.origin))") }
            for gap in risk.gaps {
                out.append("    \(gap.weight == .opens ? "!" : "-") \(gap.text)\(from(gap.origin))")
                if let fix = gap.fix { out.append("        fix: \(fix)") }
            }
            for line in risk.residual { out.append("    ~ beyond the sandbox: \(line)") }
            out.append("")
        }
        let counts = Dictionary(grouping: report.risks, by: \.verdict).mapValues(\.count)
        out.append("\(counts[.answered] ?? 0) answered, \(counts[.partial] ?? 0) partly, \(counts[.open] ?? 0) open "
                   + "(docs/THREATS.md: each risk and its source)")
        // Paths, names and values come from profiles, the command line and the host: each
        // line stays one printable line (a newline or escape inside a value becomes "?").
        return out.map { TerminalText.printable($0) }.joined(separator: "\n") + "\n"
    }

    private static func mark(_ verdict: RiskCoverage.Verdict) -> String {
        switch verdict {
        case .answered: "[answered]"
        case .partial: "[partly]  "
        case .open: "[OPEN]    "
        }
    }
}
