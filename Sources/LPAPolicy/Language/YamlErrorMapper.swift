/// Turns YAMLComposer's failures into positioned diagnostics (the texts Yams gave).
enum YamlErrorMapper {
    static func diagnostic(for failure: YAMLComposer.Failure, reader: NodeReader) -> Diagnostic {
        switch failure {
        case .syntax(let problem, let mark):
            return Diagnostic(at: reader.position(line: mark.line, column: mark.column), "YAML: \(problem)")
        case .duplicateKey(let key, let first):
            // The composer knows the first occurrence; the mistake is the repeat, so look for it.
            let mark = repeatedKey(key, after: first, in: reader) ?? (first.line, first.column)
            return Diagnostic(at: reader.position(line: mark.0, column: mark.1), "duplicate key '\(key)'",
                              hint: "each key may appear once in a mapping; merge the two entries")
        case .unreadable(let description):
            return Diagnostic(at: reader.position(line: 1, column: 1), "cannot parse YAML: \(description)")
        }
    }

    /// The next line that starts `key:` at the same column as the first occurrence.
    private static func repeatedKey(_ key: String, after mark: Node.Mark, in reader: NodeReader) -> (Int, Int)? {
        guard mark.line >= 1, mark.line < reader.lines.count else { return nil }
        for index in mark.line..<reader.lines.count {
            let line = reader.lines[index]
            let column = mark.column - 1
            guard line.count > column else { continue }
            let rest = line.dropFirst(column)
            let lead = line.prefix(column)
            if rest.hasPrefix(key + ":"), lead.allSatisfy({ $0 == " " || $0 == "-" }) {
                return (index + 1, mark.column)
            }
        }
        return nil
    }
}
