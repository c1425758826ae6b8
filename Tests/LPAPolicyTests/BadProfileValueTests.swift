import Foundation
import Testing
@testable import LPAPolicy

/// Every profile key (from the parser's own key table, so a new key is covered without
/// touching this file) with malformed values: the compiler returns a plan or errors
/// positioned in the profile, never crashes or hangs, and its messages are printable and
/// bounded whatever the value.
@Suite("bad input: every profile key")
struct BadProfileValueTests {
    /// YAML texts of malformed values (the loader turns invalid UTF-8 into U+FFFD).
    static let values = ["{}", "[]", "\"\"", "-1", "99999999999999999999999999", "\"\\0\"", "\"a\\0b\"",
                         "../../etc", "relative/path", "\"\u{FFFD}\"", String(repeating: "x", count: 100_000),
                         String(repeating: "[", count: 64) + String(repeating: "]", count: 64), "~", "true", "0x10",
                         "1e400", "!!binary aGVsbG8=", "\"\\e[31mred\"", "[\"/usr\", \"/usr\"]", "{path: ../x}",
                         "[{path: relative}]", "[{}]", "[[]]", "*undefined"]

    /// key path → the profile text that sets it to VALUE at line 2 (or 3 in a section).
    static var keyPaths: [(String, (String) -> String)] {
        var paths: [(String, (String) -> String)] = []
        for key in ProfileSchema.top {
            paths.append((key, { "extends: strict\n\(key): \($0)\n" }))
        }
        let sections: [(String, [String])] = [("network", ProfileSchema.network), ("filesystem", ProfileSchema.filesystem),
                                              ("seccomp", ProfileSchema.seccomp), ("environment", ProfileSchema.environment),
                                              ("pins", ProfileSchema.pins)]
        for (section, keys) in sections {
            for key in keys {
                paths.append(("\(section).\(key)", { "extends: strict\n\(section):\n  \(key): \($0)\n" }))
            }
        }
        let items: [(String, [String], (String, String) -> String)] = [
            ("filesystem.read-only[]", ProfileSchema.pathItem, { "extends: strict\nfilesystem:\n  read-only:\n    - {\($0): \($1)}\n" }),
            ("filesystem.tmpfs[]", ProfileSchema.tmpfsItem, { "extends: strict\nfilesystem:\n  tmpfs:\n    - {\($0): \($1)}\n" }),
            ("models[]", ProfileSchema.modelItem, { "extends: strict\nmodels:\n    - {\($0): \($1)}\n" }),
            ("seccomp.rules[]", ProfileSchema.rule, { "extends: strict\nseccomp:\n  rules:\n    - {syscall: ptrace, \($0): \($1)}\n" }),
            ("seccomp.rules[].args[]", ProfileSchema.argument,
             { "extends: strict\nseccomp:\n  rules:\n    - {syscall: ioctl, action: deny, args: [{index: 1, \($0): \($1)}]}\n" }),
        ]
        for (name, keys, make) in items {
            for key in keys { paths.append(("\(name).\(key)", { make(key, $0) })) }
        }
        return paths
    }

    @Test("each key with each malformed value: a plan, or errors with a position; printable and bounded")
    func malformedValues() throws {
        #expect(Self.keyPaths.count >= 60)
        for (path, make) in Self.keyPaths {
            for value in Self.values {
                let text = make(value)
                let what = "\(path) = \(value.prefix(24).debugDescription)"
                let started = ContinuousClock.now
                let diagnostics: [Diagnostic]
                do {
                    _ = try Fixture.compiler(["p.yaml": text]).compile(profile: "p.yaml", command: Fixture.command)
                    diagnostics = []
                } catch {
                    diagnostics = error.diagnostics
                    #expect(!diagnostics.isEmpty, "\(what): failed without a diagnostic")
                    #expect(diagnostics.contains { $0.file == "p.yaml" && $0.line > 0 && $0.column > 0 },
                            "\(what): no error positioned in the profile: \(diagnostics.map(\.description))")
                }
                #expect(ContinuousClock.now - started < .seconds(5), "\(what) took too long")
                for diagnostic in diagnostics {
                    let shown = diagnostic.description
                    #expect(shown.split(separator: "\n").allSatisfy { $0.count <= 2 * Diagnostic.quotedWidth + Diagnostic.messageWidth },
                            "\(what): a diagnostic line is unbounded")
                    #expect(!shown.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7f...0x9f).contains($0.value) },
                            "\(what): a control character reaches the terminal: \(shown.debugDescription)")
                }
            }
        }
    }

    @Test("a long line is quoted around the column with its caret; control characters become ?")
    func quotedLines() {
        let long = String(repeating: "a", count: 1000) + "BAD" + String(repeating: "b", count: 1000)
        let diagnostic = Diagnostic(file: "p.yaml", line: 1, column: 1001, message: "bad \u{1b}[2J value", sourceLine: long)
        let lines = diagnostic.description.split(separator: "\n").map(String.init)
        #expect(lines[0] == "p.yaml:1:1001: error: bad ?[2J value")
        #expect(lines[1].hasPrefix("...") && lines[1].hasSuffix("...") && lines[1].count <= Diagnostic.quotedWidth + 6)
        let caret = lines[2].count - 1
        #expect(Array(lines[1])[caret] == "B", "the caret stands under the column")
    }
}
