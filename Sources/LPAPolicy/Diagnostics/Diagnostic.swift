/// A problem found in a profile, reported the way compilers do
/// (`file:line:col: error: message`, the source line, a caret), so that
/// editors and people can jump straight to it.
public struct Diagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable, Equatable {
        case error, warning
    }

    /// Display path of the profile ("strict.yaml", "builtin:strict"), or the
    /// command-line option ("--publish") for problems with overrides.
    public var file: String
    /// 1-based; 0 when there is no position (a missing file, a command-line value).
    public var line: Int
    public var column: Int
    public var severity: Severity
    public var message: String
    /// The offending line of the profile, quoted under the message.
    public var sourceLine: String?
    /// A known fix, printed after the caret.
    public var hint: String?

    public init(file: String, line: Int, column: Int, severity: Severity = .error,
                message: String, sourceLine: String? = nil, hint: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.severity = severity
        self.message = message
        self.sourceLine = sourceLine
        self.hint = hint
    }

    init(at position: SourcePosition, severity: Severity = .error, _ message: String, hint: String? = nil) {
        self.init(file: position.file, line: position.line, column: position.column,
                  severity: severity, message: message, sourceLine: position.sourceLine, hint: hint)
    }

    public var description: String {
            // Messages and hints quote values from the profile: a huge scalar is cut, not echoed whole.
        func clipped(_ text: String) -> String {
            text.count > Self.messageWidth ? String(text.prefix(Self.messageWidth)) + "..." : text
        }
        let message = clipped(message)
        var text = line > 0
            ? "\(file):\(line):\(column): \(severity.rawValue): \(message)"
            : "\(file): \(severity.rawValue): \(message)"
        if let sourceLine, line > 0 {
            let (quoted, caretColumn) = Self.window(of: sourceLine, around: column)
            // The caret keeps the quoted line's tabs so it lands under the column.
            let lead = quoted.prefix(max(0, caretColumn - 1)).map { $0 == "\t" ? "\t" : " " }.joined()
            text += "\n\(quoted)\n\(lead)^"
        }
        if let hint { text += "\nhint: \(clipped(hint))" }
        return Self.printable(text)
    }

    /// The widest source line quoted whole; longer lines (a minified profile, a huge
    /// scalar) are quoted around the column, marked with "...".
    static let quotedWidth = 160
    static let messageWidth = 400

    private static func window(of line: String, around column: Int) -> (String, Int) {
        let characters = Array(line)
        guard characters.count > quotedWidth else { return (line, column) }
        let start = max(0, min(column - 1 - quotedWidth / 2, characters.count - quotedWidth))
        let end = min(characters.count, start + quotedWidth)
        let head = start > 0 ? "..." : "", tail = end < characters.count ? "..." : ""
        return (head + String(characters[start..<end]) + tail, column - start + head.count)
    }

    /// A profile may come from anyone, and its keys and values are quoted in messages
    /// that reach a terminal.
    static func printable(_ text: String) -> String { TerminalText.printable(text, keepingLines: true) }
}

/// Every error found while compiling, in the order found; never only the first.
public struct CompileFailure: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
