/// Readers for `pins:`. Digests are 64 hex digits, stored lower-case.
extension NodeReader {
    mutating func sha256(_ node: Node, key: String) -> Located<String>? {
        guard let text = string(node, key: key) else { return nil }
        let hex = text.value.lowercased()
        guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
            error(node, "bad sha256 '\(text.value)': expected 64 hex digits",
                  hint: "`lpa-run hash FILE` prints the digest")
            return nil
        }
        return Located(value: hex, position: text.position)
    }

    /// `{path: /abs/file, sha256: HEX}`: both required.
    mutating func filePin(_ node: Node, expander: VariableExpander) -> ModelItem? {
        guard case .mapping = node else {
            error(node, "a 'pins.files' entry must be {path: FILE, sha256: HEX}")
            return nil
        }
        var path: String?
        var sha: String?
        var ok = true
        for (k, _, value) in entries(of: node, in: "a 'pins.files' entry", keys: ProfileSchema.modelItem) {
            if k == "path" {
                path = self.path(value, key: "pins.files", expander: expander)
                if path == nil { ok = false }
            } else {
                sha = sha256(value, key: k)?.value
                if sha == nil { ok = false }
            }
        }
        guard ok else { return nil }
        guard let path, let sha else {
            error(node, "a 'pins.files' entry needs 'path' and 'sha256'")
            return nil
        }
        return ModelItem(path: path, sha256: sha)
    }

    /// `{path: /abs/dir, files: {relative/name: HEX, ...}}`: the complete manifest.
    mutating func directoryPin(_ node: Node, expander: VariableExpander) -> DirectoryPinItem? {
        var path: String?
        var files: [Located<ModelItem>]?
        var ok = true
        for (k, _, value) in entries(of: node, in: "a 'pins.directories' entry", keys: ProfileSchema.directoryPin) {
            if k == "path" {
                path = self.path(value, key: "pins.directories", expander: expander)
                if path == nil { ok = false }
                continue
            }
            guard case .mapping(let mapping) = value else {
                error(value, "'files' must be a mapping of RELATIVE/PATH: SHA256",
                      hint: "`lpa-run hash DIRECTORY` prints it")
                ok = false
                continue
            }
            var list: [Located<ModelItem>] = []
            for (keyNode, digestNode) in mapping {
                guard let name = keyNode.scalar?.string, Self.isRelativeName(name) else {
                    error(keyNode, "bad file name '\(keyNode.scalar?.string ?? "")' in 'files': "
                          + "expected a path relative to the directory, without '..'")
                    ok = false
                    continue
                }
                guard let digest = sha256(digestNode, key: name) else { ok = false; continue }
                list.append(Located(value: ModelItem(path: name, sha256: digest.value), position: position(of: keyNode)))
            }
            files = list
        }
        guard ok else { return nil }
        guard let path, let files else {
            error(node, "a 'pins.directories' entry needs 'path' and 'files'")
            return nil
        }
        return DirectoryPinItem(path: path, files: files.sorted { $0.value.path < $1.value.path })
    }

    static func isRelativeName(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        return !name.isEmpty && !name.hasPrefix("/") && !parts.contains { $0.isEmpty || $0 == "." || $0 == ".." }
    }
}
