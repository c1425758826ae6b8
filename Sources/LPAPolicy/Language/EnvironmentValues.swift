/// Readers for `environment:` values. Each returns nil (or leaves the entry out) after
/// recording a diagnostic when the value is wrong.
extension NodeReader {
    /// A variable name, or a glob over names when `glob` (`LC_*`).
    mutating func variableName(_ node: Node, key: String, glob: Bool) -> String? {
        guard let text = string(node, key: key)?.value else { return nil }
        let plain = text.replacingEvery("*", with: "").replacingEvery("?", with: "")
        guard !text.isEmpty, glob || plain == text, plain.isEmpty || VariableExpander.isName(plain.hasPrefix("_") ? plain : "A" + plain) else {
            error(node, "bad variable name '\(text)' in '\(key)'")
            return nil
        }
        return text
    }

    /// `set:` — NAME: value, values expanded.
    mutating func variables(_ node: Node, expander: VariableExpander) -> [String: Located<String>] {
        guard case .mapping(let mapping) = node else {
            error(node, "'set' must be a mapping of NAME: value")
            return [:]
        }
        var result: [String: Located<String>] = [:]
        for (keyNode, value) in mapping {
            guard let name = keyNode.scalar?.string, VariableExpander.isName(name) else {
                error(keyNode, "bad variable name '\(keyNode.scalar?.string ?? "")' in 'set'")
                continue
            }
            guard let text = string(value, key: name) else { continue }
            do throws(VariableExpander.Failure) {
                result[name] = Located(value: try expander.expand(text.value), position: position(of: keyNode))
            } catch {
                self.error(value, error.message)
            }
        }
        return result
    }
}
