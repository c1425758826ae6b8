/// Where a value was written: enough to build a `Diagnostic` or an `Origin`
/// long after the YAML nodes are gone (merging happens across files).
struct SourcePosition: Sendable, Hashable {
    var file: String
    var line: Int
    var column: Int
    var sourceLine: String?

    var origin: Origin { Origin(file: file, line: line) }

    /// A position for values that come from the command line rather than a file.
    static func commandLine(_ option: String) -> SourcePosition {
        SourcePosition(file: option, line: 0, column: 0, sourceLine: nil)
    }
}

/// A value with the place it was written.
struct Located<Value: Sendable>: Sendable {
    var value: Value
    var position: SourcePosition
}

extension Located: Equatable where Value: Equatable {}
