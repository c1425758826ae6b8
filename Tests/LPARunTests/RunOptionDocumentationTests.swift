import Foundation
import LPAPolicy
import Testing
@testable import lpa_run_core

/// README.md's `| Option | Meaning |` table: for each row, the option names of its first
/// cell (`-p, --publish [HOST_IP:]...` gives ["-p", "--publish"]).
private func readmeOptionRows() throws -> [[String]] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
    let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
    let header = try #require(lines.firstIndex { $0.hasPrefix("| Option | Meaning |") }, "README has no option table")
    var rows: [[String]] = []
    for line in lines[(header + 2)...] {
        guard line.hasPrefix("|") else { break }
        let firstCell = line.dropFirst().prefix { $0 != "|" }  // `\|` inside a cell only follows a value
        let words = firstCell.replacingOccurrences(of: "`", with: "").split { $0 == " " || $0 == "," }
        rows.append(words.filter { $0.hasPrefix("-") }.map(String.init))
    }
    return rows
}

/// Help.options with every run of spaces and line breaks made one space, so that text
/// wrapped for the terminal can be searched.
private let flatHelp = Help.options.split(whereSeparator: \.isWhitespace).joined(separator: " ")

struct RunOptionDocumentationTests {
    @Test("README's option table lists exactly the options of RunOptionTable, names grouped alike")
    func readmeListsEveryOption() throws {
        let documented = try readmeOptionRows()
        #expect(documented.allSatisfy { !$0.isEmpty })
        #expect(Set(documented) == Set(RunOptionTable.all.map(\.names)))
        #expect(documented.count == Set(documented).count, "an option is listed on two rows")
    }

    @Test("--help lists every option with its names, value and help")
    func helpListsEveryOption() {
        #expect(Help.text.contains(Help.options))
        for option in RunOptionTable.all {
            let label = option.names.joined(separator: ", ") + (option.valueName.map { " <\($0)>" } ?? "")
            #expect(Help.options.contains("\n  " + label), "\(label) missing")
            #expect(flatHelp.contains(label + " " + option.help), "help of \(label) missing")
        }
    }

    @Test("--help's option lines fit in 100 columns, help text from column 26")
    func helpLayout() {
        let lines = Help.options.split(separator: "\n")
        #expect(lines.first == "OPTIONS:")
        for line in lines.dropFirst() {
            #expect(line.count <= 100, "too wide: \(line)")
            if line.hasPrefix("   ") {
                #expect(line.prefix(26).allSatisfy { $0 == " " } && line.dropFirst(26).first != " ",
                        "continuation not at column 26: \(line)")
            } else {
                #expect(line.hasPrefix("  -"), "not an option line: \(line)")
            }
        }
    }

    @Test("--help's exit statuses are LPAExitCode's")
    func helpNamesExitStatuses() {
        #expect(Help.text.contains("\(LPAExitCode.ownError) lpa-run's own error"))
        #expect(Help.text.contains("\(LPAExitCode.notExecutable) command found but not executable"))
        #expect(Help.text.contains("\(LPAExitCode.notFound) command not found"))
    }
}
