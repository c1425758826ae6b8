import FoundationEssentials

/// Renders a plan for machines (JSON, the plan itself) and for people (text).
public enum PlanFormatter {
    /// Pretty, sorted keys, no escaped slashes, trailing newline: byte-stable, so
    /// goldens and digests compare exactly.
    public static func json(_ plan: IsolationPlan) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(plan) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// The plan a `--dry-run --format json` printed, read back (tests, the fuzzer).
    public static func decode(_ json: String) -> IsolationPlan? {
        try? JSONDecoder().decode(IsolationPlan.self, from: Data(json.utf8))
    }
}
