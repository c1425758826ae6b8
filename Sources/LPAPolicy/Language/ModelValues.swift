/// Readers for `models:`. Each returns nil after recording a diagnostic when the value
/// is wrong.
extension NodeReader {
    /// `/models/m.gguf` or `{path: ..., sha256: <64 hex>}`.
    mutating func model(_ node: Node, expander: VariableExpander) -> ModelItem? {
        guard case .mapping = node else {
            return path(node, key: "models", expander: expander).map { ModelItem(path: $0, sha256: nil) }
        }
        var path: String?
        var sha: String?
        var ok = true
        for (k, _, value) in entries(of: node, in: "a 'models' entry", keys: ProfileSchema.modelItem) {
            if k == "path" {
                path = self.path(value, key: "models", expander: expander)
            } else if let text = string(value, key: k) {
                let hex = text.value.lowercased()
                if hex.count == 64, hex.allSatisfy(\.isHexDigit) {
                    sha = hex
                } else {
                    error(value, "bad sha256 '\(text.value)': expected 64 hex digits")
                    ok = false
                }
            }
        }
        guard let path, ok else {
            if path == nil, ok { error(node, "a 'models' entry needs 'path'") }
            return nil
        }
        return ModelItem(path: path, sha256: sha)
    }
}

extension NodeReader {
    /// A `model-arguments` entry: one word of a command line (`-m`, `--model`, `serve`).
    mutating func modelArgument(_ node: Node) -> String? {
        guard let text = string(node, key: "model-arguments") else { return nil }
        guard !text.value.isEmpty, !text.value.contains(where: \.isWhitespace), !text.value.contains("=") else {
            error(node, "bad model argument '\(text.value)': expected one word such as -m or --model")
            return nil
        }
        return text.value
    }
}
