/// Readers for `seccomp:` values. Each returns nil after recording a diagnostic when
/// the value is wrong.
extension NodeReader {
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
}
