/// Readers for `filesystem:` values (`path` also serves `models:` and `pins:`). Each
/// returns nil after recording a diagnostic when the value is wrong.
extension NodeReader {
    mutating func path(_ node: Node, key: String, expander: VariableExpander) -> String? {
        guard let text = string(node, key: key) else { return nil }
        let expanded: String
        do throws(VariableExpander.Failure) {
            expanded = try expander.expandPath(text.value)
        } catch {
            self.error(node, error.message)
            return nil
        }
        do throws(PathNormalizer.Failure) {
            return try PathNormalizer.normalize(expanded)
        } catch {
            self.error(node, error.message + (expanded != text.value ? " (from '\(text.value)')" : ""),
                       hint: "paths must be absolute: start with /, ~ or ${CWD}, and name the target without '..'")
            return nil
        }
    }

    /// `/path` or `{path: /path, optional: true}`.
    mutating func pathItem(_ node: Node, key: String, expander: VariableExpander) -> PathItem? {
        if case .mapping = node {
            var path: String?
            var optional = false
            var sawPath = false
            for (k, _, value) in entries(of: node, in: "a '\(key)' entry", keys: ProfileSchema.pathItem) {
                if k == "path" {
                    sawPath = true
                    path = self.path(value, key: key, expander: expander)
                } else {
                    optional = bool(value, key: k)?.value ?? false
                }
            }
            if !sawPath { error(node, "a '\(key)' entry needs 'path'") }
            return path.map { PathItem(path: $0, optional: optional) }
        }
        return path(node, key: key, expander: expander).map { PathItem(path: $0, optional: false) }
    }

    /// `/tmp` or `{path: /var/tmp, size: 256M, mode: "1777"}`.
    mutating func tmpfsItem(_ node: Node, key: String, expander: VariableExpander) -> TmpfsItem? {
        guard case .mapping = node else {
            return path(node, key: key, expander: expander).map { TmpfsItem(path: $0) }
        }
        var item = TmpfsItem(path: "")
        var ok = true
        var sawPath = false
        for (k, _, value) in entries(of: node, in: "a '\(key)' entry", keys: ProfileSchema.tmpfsItem) {
            switch k {
            case "path":
                sawPath = true
                if let p = path(value, key: key, expander: expander) { item.path = p } else { ok = false }
            case "size":
                if let s = size(value, key: k) { item.size = s.value } else { ok = false }
            default:
                if let m = mode(value) { item.mode = m } else { ok = false }
            }
        }
        if !sawPath { error(node, "a '\(key)' entry needs 'path'") }
        return ok && sawPath ? item : nil
    }

    mutating func size(_ node: Node, key: String) -> Located<UInt64>? {
        guard let text = string(node, key: key) else { return nil }
        do throws(SizeParser.Failure) {
            return Located(value: try SizeParser.parse(text.value), position: text.position)
        } catch {
            self.error(node, error.message)
            return nil
        }
    }

    /// Octal permission bits, written "1777" or 0755.
    mutating func mode(_ node: Node) -> UInt32? {
        guard let text = string(node, key: "mode") else { return nil }
        let digits = text.value.hasPrefix("0o") ? String(text.value.dropFirst(2)) : text.value
        guard let mode = UInt32(digits, radix: 8), mode <= 0o7777 else {
            error(node, "bad mode '\(text.value)': expected octal permission bits such as \"1777\" or \"0700\"")
            return nil
        }
        return mode
    }

    /// `gpu` (a device group) or a path under /dev.
    mutating func device(_ node: Node, expander: VariableExpander) -> DeviceItem? {
        if let name = node.scalar?.string, ProfileSchema.deviceGroups[name] != nil {
            return DeviceItem(path: name, optional: true)
        }
        guard let item = pathItem(node, key: "devices", expander: expander) else { return nil }
        guard item.path.hasPrefix("/dev/") else {
            error(node, "device '\(item.path)' is not under /dev"
                  + Suggestion.phrase(for: node.scalar?.string ?? "", in: Array(ProfileSchema.deviceGroups.keys)),
                  hint: "device groups: \(ProfileSchema.deviceGroups.keys.sorted().joined(separator: ", "))")
            return nil
        }
        return DeviceItem(path: item.path, optional: item.optional)
    }
}
