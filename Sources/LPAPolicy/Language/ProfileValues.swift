import Yams

/// Readers for the values of individual profile keys. Each returns nil after
/// recording a diagnostic when the value is wrong.
extension NodeReader {
    mutating func extends(_ node: Node) -> [Located<String>] {
        if case .scalar = node { return string(node, key: "extends").map { [$0] } ?? [] }
        guard case .sequence(let items) = node else {
            error(node, "'extends' must be a profile name or a list of them")
            return []
        }
        return items.compactMap { string($0, key: "extends") }
    }

    /// RFC 1123 label: what sethostname accepts and resolvers agree on.
    mutating func hostname(_ node: Node) -> Located<String>? {
        guard let name = string(node, key: "hostname") else { return nil }
        guard HostnameRule.isValid(name.value) else {
            error(node, "bad hostname '\(name.value)': use 1-63 letters, digits and '-'")
            return nil
        }
        return name
    }

    mutating func capability(_ node: Node) -> Capability? {
        guard let name = string(node, key: "capabilities") else { return nil }
        guard let capability = CapabilityResolver.resolve(name.value) else {
            let suggestion = Suggestion.closest(to: "CAP_" + name.value.uppercased().replacingOccurrences(of: "CAP_", with: ""),
                                                in: CapabilityResolver.knownNames)
            error(node, "unknown capability '\(name.value)'" + (suggestion.map { " (did you mean '\($0)'?)" } ?? ""))
            return nil
        }
        return capability
    }

    mutating func rlimits(_ node: Node) -> [String: Located<RlimitValue>] {
        let names = RlimitNames.numbers.keys.sorted()
        var result: [String: Located<RlimitValue>] = [:]
        for (name, keyNode, value) in entries(of: node, in: "'rlimits'", keys: names) {
            guard let text = string(value, key: name) else { continue }
            let limit: UInt64?
            if text.value == "unlimited" {
                limit = nil
            } else {
                do throws(SizeParser.Failure) {
                    limit = try SizeParser.parse(text.value)
                } catch {
                    self.error(value, error.message.replacingOccurrences(of: "bad size", with: "bad limit")
                               + " or 'unlimited'")
                    continue
                }
            }
            // Core dumps would write process memory (prompts, weights, keys) to disk.
            if name == "core", limit != 0 {
                self.error(value, "rlimit 'core' cannot be raised: it is always 0",
                           hint: "core dumps would write the sandbox's memory (prompts, keys) to disk")
                continue
            }
            result[name] = Located(value: RlimitValue(limit: limit), position: position(of: keyNode))
        }
        return result
    }

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

    mutating func endpoint<T>(_ node: Node, key: String,
                              _ parse: (String) throws(EndpointParser.Failure) -> T) -> T? {
        guard let text = string(node, key: key) else { return nil }
        do throws(EndpointParser.Failure) {
            return try parse(text.value)
        } catch {
            self.error(node, error.message, hint: error.hint)
            return nil
        }
    }

    mutating func errnoName(_ node: Node, key: String) -> Located<String>? {
        guard let text = string(node, key: key) else { return nil }
        guard ErrnoNames.number(text.value) != nil else {
            error(node, "unknown errno '\(text.value)'" + Suggestion.phrase(for: text.value, in: Array(ErrnoNames.table.keys)),
                  hint: "known: \(ErrnoNames.table.keys.sorted().joined(separator: ", "))")
            return nil
        }
        return text
    }

    /// A syscall name libseccomp knows, or `@group`.
    mutating func syscallOrGroup(_ node: Node, key: String) -> String? {
        guard let text = string(node, key: key)?.value else { return nil }
        if text.hasPrefix("@") {
            let groups = SyscallGroups.all.map { "@" + $0.name }
            guard groups.contains(text) else {
                error(node, "unknown syscall group '\(text)'" + Suggestion.phrase(for: text, in: groups))
                return nil
            }
            return text
        }
        guard SyscallResolver.number(of: text) != nil else {
            error(node, "unknown syscall '\(text)'" + Suggestion.phrase(for: text, in: SyscallResolver.nativeNames),
                  hint: SyscallGroups.group(named: text) != nil ? "groups are written with '@': '@\(text)'" : nil)
            return nil
        }
        return text
    }

    mutating func symbol(_ node: Node, key: String, table: [String: UInt64], prefix: String) -> SymbolicValue? {
        guard let text = string(node, key: key)?.value else { return nil }
        guard let value = SymbolicConstants.resolve(text, in: table, prefix: prefix) else {
            error(node, "unknown value '\(text)' in '\(key)'"
                  + Suggestion.phrase(for: text.uppercased().hasPrefix(prefix) ? text.uppercased() : prefix + text.uppercased(),
                                      in: Array(table.keys)),
                  hint: "known: \(table.keys.sorted().joined(separator: ", ")), or a number")
            return nil
        }
        return value
    }

    /// `{syscall: personality, action: deny, errno: EINVAL, args: [{index: 0, op: ne, value: 0}]}`
    mutating func rule(_ node: Node) -> RawRule? {
        var syscall: String?
        var action: RawAction?
        var errno: String?
        var args: [ArgCondition] = []
        var ok = true
        for (k, _, value) in entries(of: node, in: "a seccomp rule", keys: ProfileSchema.rule) {
            switch k {
            case "syscall":
                syscall = syscallOrGroup(value, key: k)
                if syscall?.hasPrefix("@") == true {
                    error(value, "a rule names one syscall, not a group")
                    syscall = nil
                }
                if syscall == nil { ok = false }
            case "action":
                let names = ["allow", "deny", "kill", "log"]
                guard let text = string(value, key: k) else { ok = false; continue }
                switch text.value {
                case "allow": action = .allow
                case "deny": action = .deny
                case "kill": action = .kill
                case "log": action = .log
                default:
                    error(value, "'action' must be one of \(names.joined(separator: ", ")), not '\(text.value)'"
                          + Suggestion.phrase(for: text.value, in: names))
                    ok = false
                }
            case "errno":
                errno = errnoName(value, key: k)?.value
                if errno == nil { ok = false }
            default:
                guard case .sequence(let items) = value else {
                    error(value, "'args' must be a list of conditions")
                    ok = false
                    continue
                }
                for item in items {
                    if let condition = argument(item) { args.append(condition) } else { ok = false }
                }
            }
        }
        guard let syscall, let number = SyscallResolver.number(of: syscall) else {
            if ok { error(node, "a seccomp rule needs 'syscall'") }
            return nil
        }
        guard var action else {
            if ok { error(node, "a seccomp rule needs 'action'") }
            return nil
        }
        if let errno {
            guard action == .deny else {
                error(node, "'errno' applies only to action 'deny'")
                return nil
            }
            action = .errno(errno)
        }
        return ok ? RawRule(syscall: syscall, number: number, action: action, args: args) : nil
    }

    /// `{index: 0..5, op: eq|ne|lt|le|gt|ge|masked-eq, value: N, mask: N, width: 32|64}`
    mutating func argument(_ node: Node) -> ArgCondition? {
        var condition = ArgCondition(index: -1, op: .eq, value: 0)
        var sawValue = false
        var ok = true
        for (k, _, value) in entries(of: node, in: "an argument condition", keys: ProfileSchema.argument) {
            guard let text = string(value, key: k)?.value else { ok = false; continue }
            switch k {
            case "index":
                guard let index = Int(text), (0...5).contains(index) else {
                    error(value, "'index' must be 0-5, not '\(text)'")
                    ok = false
                    continue
                }
                condition.index = index
            case "op":
                guard let op = ArgCondition.Op(rawValue: text) else {
                    let ops = ["eq", "ne", "lt", "le", "gt", "ge", "masked-eq"]
                    error(value, "'op' must be one of \(ops.joined(separator: ", ")), not '\(text)'"
                          + Suggestion.phrase(for: text, in: ops))
                    ok = false
                    continue
                }
                condition.op = op
            case "width":
                guard text == "32" || text == "64" else {
                    error(value, "'width' must be 32 or 64")
                    ok = false
                    continue
                }
                condition.width = Int(text)!
            default:
                guard let number = argumentValue(text) else {
                    error(value, "bad \(k) '\(text)': expected a number (decimal or 0x hex) or a known constant")
                    ok = false
                    continue
                }
                if k == "value" { condition.value = number; sawValue = true } else { condition.mask = number }
            }
        }
        guard ok else { return nil }
        if condition.index < 0 || !sawValue {
            error(node, "an argument condition needs 'index' and 'value'")
            return nil
        }
        if condition.op == .maskedEq, condition.mask == nil {
            error(node, "op 'masked-eq' needs 'mask'")
            return nil
        }
        return condition
    }

    private func argumentValue(_ text: String) -> UInt64? {
        if let number = SymbolicConstants.parseNumber(text) { return number }
        if text.hasPrefix("-"), let negative = Int64(text) { return UInt64(bitPattern: negative) }
        for table in [SymbolicConstants.socketFamilies, SymbolicConstants.ioctlRequests, SymbolicConstants.cloneFlags] {
            if let value = table[text] { return value }
        }
        return nil
    }

    /// A variable name, or a glob over names when `glob` (`LC_*`).
    mutating func variableName(_ node: Node, key: String, glob: Bool) -> String? {
        guard let text = string(node, key: key)?.value else { return nil }
        let plain = text.replacingOccurrences(of: "*", with: "").replacingOccurrences(of: "?", with: "")
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

/// Hostnames the kernel and resolvers accept.
enum HostnameRule {
    static func isValid(_ name: String) -> Bool {
        (1...63).contains(name.count) && !name.hasPrefix("-") && !name.hasSuffix("-")
            && name.unicodeScalars.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "-" }
    }
}
