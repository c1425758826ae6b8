/// Reads composed YAML nodes (YAMLComposer) with positions and collects every problem instead of
/// stopping at the first, so one run shows a profile author all their mistakes.
struct NodeReader {
    let path: String
    let lines: [Substring]
    private(set) var diagnostics: [Diagnostic] = []

    init(path: String, text: String) {
        self.path = path
        self.lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    func position(line: Int, column: Int) -> SourcePosition {
        let source = (1...max(1, lines.count)).contains(line) && line <= lines.count
            ? String(lines[line - 1]).trimmingTrailingCarriageReturn : nil
        return SourcePosition(file: path, line: line, column: column, sourceLine: source)
    }

    func position(of node: Node) -> SourcePosition {
        position(line: node.mark.line, column: node.mark.column)
    }

    mutating func error(_ node: Node, _ message: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(at: position(of: node), message, hint: hint))
    }

    mutating func report(_ diagnostic: Diagnostic) { diagnostics.append(diagnostic) }

    /// The entries of a mapping whose keys are all in `keys`; unknown keys are
    /// reported with the closest known key and skipped.
    mutating func entries(of node: Node, in context: String, keys: [String]) -> [(key: String, keyNode: Node, value: Node)] {
        guard case .mapping(let mapping) = node else {
            error(node, "\(context) must be a mapping, not \(kind(of: node))")
            return []
        }
        var result: [(String, Node, Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                error(keyNode, "keys in \(context) must be plain words")
                continue
            }
            guard keys.contains(key) else {
                error(keyNode, "unknown key '\(key)'" + Suggestion.phrase(for: key, in: keys),
                      hint: Suggestion.closest(to: key, in: keys) == nil ? "known keys here: \(keys.joined(separator: ", "))" : nil)
                continue
            }
            result.append((key, keyNode, value))
        }
        return result
    }

    /// A scalar's text (numbers and booleans too, as written).
    mutating func string(_ node: Node, key: String) -> Located<String>? {
        guard case .scalar(let scalar) = node else {
            error(node, "'\(key)' must be a string, not \(kind(of: node))")
            return nil
        }
        return Located(value: scalar.string, position: position(of: node))
    }

    mutating func bool(_ node: Node, key: String) -> Located<Bool>? {
        guard case .scalar(let scalar) = node, scalar.style == .plain, ["true", "false"].contains(scalar.string) else {
            error(node, "'\(key)' must be true or false")
            return nil
        }
        return Located(value: scalar.string == "true", position: position(of: node))
    }

    mutating func choice<E: RawRepresentable & Sendable>(_ node: Node, key: String, _ type: E.Type, _ values: [E]) -> Located<E>?
    where E.RawValue == String {
        guard let text = string(node, key: key) else { return nil }
        guard let value = E(rawValue: text.value) else {
            let names = values.map(\.rawValue)
            error(node, "'\(key)' must be one of \(names.joined(separator: ", ")), not '\(text.value)'"
                  + Suggestion.phrase(for: text.value, in: names))
            return nil
        }
        return Located(value: value, position: text.position)
    }

    /// A list, or `{replace: [...]}`; items that fail to read are dropped (their
    /// errors are recorded).
    mutating func list<Item: Sendable>(_ node: Node, key: String,
                                       item: (inout NodeReader, Node) -> Item?) -> ListValue<Item>? {
        var replace = false
        var sequenceNode = node
        if case .mapping(let mapping) = node {
            guard mapping.count == 1, let first = mapping.first, first.key.scalar?.string == "replace" else {
                error(node, "'\(key)' must be a list, or {replace: [...]} to replace the inherited list")
                return nil
            }
            replace = true
            sequenceNode = first.value
        }
        guard case .sequence(let sequence) = sequenceNode else {
            error(sequenceNode, "'\(key)' must be a list, not \(kind(of: sequenceNode))",
                  hint: sequenceNode.scalar != nil ? "write [\(sequenceNode.scalar!.string)]" : nil)
            return nil
        }
        var items: [Located<Item>] = []
        for child in sequence {
            if let value = item(&self, child) {
                items.append(Located(value: value, position: position(of: child)))
            }
        }
        return ListValue(replace: replace, items: items, position: position(of: node))
    }

    func kind(of node: Node) -> String {
        switch node {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }
}

extension String {
    var trimmingTrailingCarriageReturn: String { hasSuffix("\r") ? String(dropLast()) : self }
}
