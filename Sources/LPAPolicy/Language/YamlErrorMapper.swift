import Yams

/// Turns Yams errors into positioned diagnostics.
enum YamlErrorMapper {
    static func diagnostic(for error: any Error, reader: NodeReader) -> Diagnostic {
        guard let yaml = error as? YamlError else {
            return Diagnostic(at: reader.position(line: 1, column: 1), "cannot parse YAML: \(error)")
        }
        switch yaml {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
             .composer(_, let problem, let mark, _):
            return Diagnostic(at: reader.position(line: mark.line, column: mark.column), "YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Yams points at the first occurrence; the mistake is the repeat, so look for it.
            let key = duplicates.first ?? ""
            let mark = repeatedKey(key, after: context.mark, in: reader) ?? (context.mark.line, context.mark.column)
            return Diagnostic(at: reader.position(line: mark.0, column: mark.1), "duplicate key '\(key)'",
                              hint: "each key may appear once in a mapping; merge the two entries")
        default:
            return Diagnostic(at: reader.position(line: 1, column: 1), "cannot parse YAML: \(yaml)")
        }
    }

    /// The next line that starts `key:` at the same column as the first occurrence.
    private static func repeatedKey(_ key: String, after mark: Mark, in reader: NodeReader) -> (Int, Int)? {
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
