import Testing
@testable import LPAPolicy

/// The string edits that replaced Foundation's (TextEditing.swift).
struct TextEditingTests {
    /// A systemd specifier cannot hide behind a combining mark: every '%' is doubled.
    @Test func replacingMatchesUnicodeScalars() {
        #expect("a%\u{301}b%".replacingEvery("%", with: "%%") == "a%%\u{301}b%%")
        #expect("x y".replacingEvery(" ", with: "\\x20") == "x\\x20y")
        #expect("abc".replacingEvery("", with: "-") == "abc")
    }

    @Test func paddingNeverCuts() {
        #expect("ab".padded(to: 4) == "ab  ")
        #expect("abcdef".padded(to: 4) == "abcdef")
        #expect(" \tword \t".trimmingBlanks == "word")
    }

    /// Foundation's padding counted UTF-16 units and cut "/data/😀😀/x" in the text plan.
    @Test func dryRunTextKeepsAPathOutsideTheBasicPlane() throws {
        let plan = try Fixture.compile("extends: strict\nfilesystem:\n  read-only: [\"/data/\u{1F600}\u{1F600}/x\"]\n")
        let lines = PlanFormatter.text(plan).split(separator: "\n").filter { $0.contains("/data/") }
        #expect(lines.count >= 2, "\(lines)")
        #expect(lines.allSatisfy { $0.contains("/data/\u{1F600}\u{1F600}/x") }, "\(lines)")
    }
}
