/// Compiles the seccomp section into libseccomp-ready rules.
///
/// libseccomp keeps one unconditional action per syscall and silently lets an
/// unconditional rule swallow conditional ones, so the compiler decides per
/// syscall: its unconditional action (deny/allow lists, unconditional raw rules),
/// then conditional rules only where they change the outcome.
struct SeccompCompiler {
    let document: ProfileDocument
    let steps: [(deny: ListValue<String>?, allow: ListValue<String>?)]

    /// The plan, and where each of its rules was written (for later checks' diagnostics).
    struct Compiled {
        var plan: SeccompPlan
        /// Parallel to `plan.rules`.
        var rulePositions: [SourcePosition?]
        /// Where `default` was set (nil: the built-in default, allow).
        var defaultPosition: SourcePosition?
    }

    /// Order of rule reasons after the groups.
    private enum Category: String, CaseIterable {
        case deny, allow, socketFamilies = "socket-families", ioctlDeny = "ioctl-deny", cloneFlags = "clone-flags",
             personalityFlags = "personality-flags", rule
    }

    private struct Candidate {
        var rank: Int
        var sequence: Int
        var rule: SeccompRule
        var position: SourcePosition?
    }

    func compile(_ diagnostics: inout [Diagnostic]) -> Compiled {
        let errnoName = document.seccompErrno?.value ?? "EPERM"
        let denyAction = SeccompAction.errno(name: errnoName, number: ErrnoNames.number(errnoName) ?? 1)
        let defaultAction: SeccompAction = switch document.seccompDefault?.value ?? .allow {
        case .allow: .allow
        case .deny: denyAction
        case .kill: .killProcess
        case .log: .log
        }
        // Other ABIs (int $0x80, x32) number syscalls differently and slip past
        // native-only rules: kill them unless told otherwise.
        let otherArchitectures: SeccompAction = document.otherArchitectures?.value == .deny ? denyAction : .killProcess

        // Unconditional action per syscall, in first-seen order.
        var unconditional: [String: Candidate] = [:]
        var sequence = 0
        func set(_ name: String, _ action: SeccompAction, rank: Int, reason: String, position: SourcePosition?) {
            sequence += 1
            let number = SyscallResolver.number(of: name) ?? -1
            unconditional[name] = Candidate(rank: rank, sequence: sequence,
                                            rule: SeccompRule(syscall: name, number: number, action: action,
                                                              reason: reason, origin: position?.origin),
                                            position: position)
        }
        func expand(_ entry: String) -> [(name: String, reason: String)] {
            if entry.hasPrefix("@"), let group = SyscallGroups.group(named: String(entry.dropFirst())) {
                return group.syscalls.filter { SyscallResolver.number(of: $0) != nil }.map { ($0, group.name) }
            }
            return [(entry, "")]
        }
        func rank(_ reason: String, _ category: Category) -> Int {
            SyscallGroups.rank(of: reason) ?? (SyscallGroups.all.count + Category.allCases.firstIndex(of: category)!)
        }

        // Replay deny/allow per profile: a later `allow` removes an earlier deny.
        for step in steps {
            if step.deny?.replace == true {
                unconditional = unconditional.filter { $0.value.rule.action != denyAction }
            }
            if step.allow?.replace == true {
                unconditional = unconditional.filter { $0.value.rule.action != .allow }
            }
            for item in step.deny?.items ?? [] {
                for (name, group) in expand(item.value) where unconditional[name]?.rule.action != denyAction {
                    set(name, denyAction, rank: rank(group, .deny), reason: group.isEmpty ? "deny" : group,
                        position: item.position)
                }
            }
            for item in step.allow?.items ?? [] {
                for (name, group) in expand(item.value) {
                    set(name, .allow, rank: rank(group, .allow), reason: group.isEmpty ? "allow" : group,
                        position: item.position)
                }
            }
        }
        let rawRules = document.rules?.items ?? []
        for item in rawRules where item.value.args.isEmpty {
            set(item.value.syscall, action(item.value.action, denyAction), rank: rank("", .rule), reason: "rule",
                position: item.position)
        }
        let cloneFlags = document.denyCloneFlags?.items ?? []
        if !cloneFlags.isEmpty {
            // glibc falls back from clone3 to clone only on ENOSYS, and clone's flags
            // are checkable in a register while clone3's sit in memory.
            set("clone3", .errno(name: "ENOSYS", number: ErrnoNames.number("ENOSYS")!), rank: rank("", .cloneFlags),
                reason: "clone-flags", position: document.denyCloneFlags?.position)
        }

        func outcome(_ name: String) -> SeccompAction { unconditional[name]?.rule.action ?? defaultAction }
        var conditional: [Candidate] = []
        func add(_ name: String, _ action: SeccompAction, _ args: [ArgCondition], _ category: Category,
                 _ position: SourcePosition?) {
            sequence += 1
            conditional.append(Candidate(rank: rank("", category), sequence: sequence,
                                         rule: SeccompRule(syscall: name, number: SyscallResolver.number(of: name) ?? -1,
                                                           action: action, args: args, reason: category.rawValue,
                                                           origin: position?.origin),
                                         position: position))
        }

        // socket() and socketpair(): families outside the list fail as "not supported",
        // which programs handle. socketpair reaches a family's code as socket does.
        if let families = document.socketFamilies, !families.items.isEmpty {
            let allowed = Set(families.items.map(\.value.value))
            let position = families.position
            let failure = SeccompAction.errno(name: "EAFNOSUPPORT", number: ErrnoNames.number("EAFNOSUPPORT")!)
            for call in ["socket", "socketpair"] {
                if outcome(call) == .allow, defaultAction == .allow {
                    let highest = allowed.max()!
                    for family in 0..<highest where !allowed.contains(family) {
                        add(call, failure, [ArgCondition(index: 0, op: .eq, value: family)], .socketFamilies, position)
                    }
                    add(call, failure, [ArgCondition(index: 0, op: .ge, value: highest + 1)], .socketFamilies, position)
                } else if outcome(call) == .allow {
                    // An allowlist: allow the call only for the listed families.
                    unconditional[call] = nil
                    for family in allowed.sorted() {
                        add(call, .allow, [ArgCondition(index: 0, op: .eq, value: family)], .socketFamilies, position)
                    }
                }
            }
        }

        // personality(): only the listed flags, 0 (PER_LINUX) and the 0xffffffff query, as
        // Docker allows. The kernel reads the argument as 32 bits, so the rules do too.
        if let flags = document.personalityFlags {
            let allowed = flags.items.reduce(UInt64(0)) { $0 | $1.value.value } & 0xffff_ffff
            let position = flags.position
            if outcome("personality") == .allow, defaultAction == .allow {
                for (mask, value) in PersonalityRules.deniedValues(allowedFlags: allowed) {
                    add("personality", denyAction, [ArgCondition(index: 0, op: .maskedEq, value: value, mask: mask,
                                                                 width: 32)],
                        .personalityFlags, position)
                }
            } else if outcome("personality") == .allow {
                unconditional["personality"] = nil
                add("personality", .allow, [ArgCondition(index: 0, op: .maskedEq, value: 0,
                                                         mask: ~allowed & 0xffff_ffff, width: 32)],
                    .personalityFlags, position)
                add("personality", .allow, [ArgCondition(index: 0, op: .maskedEq, value: 0xffff_ffff,
                                                         mask: 0xffff_ffff, width: 32)],
                    .personalityFlags, position)
            }
        }

        // ioctl(): requests compared on their low 32 bits, as the kernel does.
        if let requests = document.ioctlDeny, !requests.items.isEmpty {
            if outcome("ioctl") == .allow, defaultAction == .allow {
                for request in requests.items {
                    add("ioctl", denyAction, [ArgCondition(index: 1, op: .maskedEq, value: request.value.value,
                                                           mask: 0xffff_ffff, width: 32)],
                        .ioctlDeny, request.position)
                }
            } else if outcome("ioctl") == .allow {
                // An allowlist (a learned profile): libseccomp keeps one condition per
                // argument in a rule and lets an unconditional allow swallow conditional
                // denials, so "every request but these" is allowed as the blocks of
                // request values (low 32 bits) that hold none of them.
                unconditional["ioctl"] = nil
                let denied = Set(requests.items.map { $0.value.value & 0xffff_ffff })
                for (value, mask) in Self.complementBlocks(denied) {
                    add("ioctl", .allow, [ArgCondition(index: 1, op: .maskedEq, value: value, mask: mask, width: 32)],
                        .ioctlDeny, requests.position)
                }
            }
        }

        if !cloneFlags.isEmpty {
            let position = document.denyCloneFlags?.position
            if outcome("clone") == .allow, defaultAction == .allow {
                for flag in cloneFlags {
                    add("clone", denyAction, [ArgCondition(index: 0, op: .maskedEq, value: flag.value.value, mask: flag.value.value)],
                        .cloneFlags, flag.position)
                }
            } else if outcome("clone") == .allow {
                let mask = cloneFlags.reduce(UInt64(0)) { $0 | $1.value.value }
                unconditional["clone"] = nil
                add("clone", .allow, [ArgCondition(index: 0, op: .maskedEq, value: 0, mask: mask)], .cloneFlags, position)
            }
        }

        for item in rawRules where !item.value.args.isEmpty {
            let rule = item.value
            if let existing = unconditional[rule.syscall], existing.rule.action != .allow {
                diagnostics.append(Diagnostic(at: item.position, severity: .warning,
                                              "rule for '\(rule.syscall)' has no effect: the syscall is denied unconditionally (\(existing.rule.reason ?? "deny"))"))
                continue
            }
            // Under a denying default an outright allow is a rule of its own, and libseccomp
            // lets it swallow this one: the restriction would silently vanish (an allowlist
            // extending a profile that restricts the call by argument).
            if let existing = unconditional[rule.syscall], existing.rule.action == .allow, defaultAction != .allow,
               action(rule.action, denyAction) != .allow {
                diagnostics.append(Diagnostic(at: item.position,
                                              "rule for '\(rule.syscall)' cannot be enforced: '\(rule.syscall)' is also allowed outright"
                                                  + (existing.position.map { " (\($0))" } ?? "")
                                                  + ", and an outright allow overrides every rule with conditions",
                                              hint: "remove '\(rule.syscall)' from `seccomp: allow` and allow it through `rules` with conditions"))
                continue
            }
            add(rule.syscall, action(rule.action, denyAction), rule.args, .rule, item.position)
        }

        let candidates = (Array(unconditional.values) + conditional)
            .filter { $0.rule.action != defaultAction }
            .sorted { ($0.rank, $0.rule.syscall, $0.sequence) < ($1.rank, $1.rule.syscall, $1.sequence) }
        let plan = SeccompPlan(architecture: SyscallResolver.nativeArchitecture, defaultAction: defaultAction,
                               otherArchitectures: otherArchitectures, rules: candidates.map(\.rule))
        return Compiled(plan: plan, rulePositions: candidates.map(\.position),
                        defaultPosition: document.seccompDefault?.position)
    }

    /// The 32-bit values not in `excluded`, as aligned blocks `(value, mask)` (a value v
    /// is in a block when v & mask == value): at most 32 blocks per excluded value.
    static func complementBlocks(_ excluded: Set<UInt64>) -> [(value: UInt64, mask: UInt64)] {
        var blocks: [(value: UInt64, mask: UInt64)] = []
        func cover(_ prefix: UInt64, _ bits: Int) {
            let mask: UInt64 = bits == 0 ? 0 : (0xffff_ffff << UInt64(32 - bits)) & 0xffff_ffff
            let inside = excluded.contains { $0 & mask == prefix }
            if !inside {
                blocks.append((prefix, mask))
            } else if bits < 32 {
                cover(prefix, bits + 1)
                cover(prefix | (1 << UInt64(31 - bits)), bits + 1)
            }
        }
        cover(0, 0)
        return blocks
    }

    private func action(_ raw: RawAction, _ deny: SeccompAction) -> SeccompAction {
        switch raw {
        case .allow: .allow
        case .deny: deny
        case .kill: .killProcess
        case .log: .log
        case .errno(let name): .errno(name: name, number: ErrnoNames.number(name) ?? 1)
        }
    }
}
