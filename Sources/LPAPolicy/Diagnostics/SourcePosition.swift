/// Where a value was written: enough to build a `Diagnostic` or an `Origin`
/// long after the YAML nodes are gone (merging happens across files).
struct SourcePosition: Sendable, Hashable {
    var file: String
    var line: Int
    var column: Int
    var sourceLine: String?
    /// Said with the origin in the plan: the option as typed, or why a mount was added.
    var detail: String? = nil

    var origin: Origin { Origin(file: file, line: line, detail: detail) }

    /// A position for values that come from the command line rather than a file.
    static func commandLine(_ option: String) -> SourcePosition {
        SourcePosition(file: option, line: 0, column: 0, sourceLine: nil)
    }
}

extension SourcePosition {
    /// A word of lpa-run's own command line: `line` is its position in argv (0 is
    /// lpa-run), the quoted line is the option as typed.
    static func argv(_ position: Int, _ typed: String, detail: String? = nil) -> SourcePosition {
        SourcePosition(file: Origin.commandLine, line: position, column: 1, sourceLine: typed,
                       detail: detail ?? typed)
    }

    /// Something lpa-run added on its own (a virtual environment), with the reason.
    static func automatic(_ reason: String) -> SourcePosition {
        SourcePosition(file: Origin.automatic, line: 0, column: 0, sourceLine: nil, detail: reason)
    }
}

/// A value with the place it was written.
struct Located<Value: Sendable>: Sendable {
    var value: Value
    var position: SourcePosition
}

extension Located: Equatable where Value: Equatable {}
