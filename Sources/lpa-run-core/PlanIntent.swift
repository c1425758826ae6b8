import LPAPolicy

/// What an isolation plan intends for one probe, read from the plan itself (never
/// from a profile's name), so `probe` judges a user's own profile by what it says.
enum Intent: Equatable {
    /// Blocked; `expected` is the exact result the plan implies (an errno name, or
    /// "killed-by-signal-31"), nil when any failure counts.
    case blocked(expected: String?)
    case allowed

    var word: String {
        switch self {
        case .blocked: "blocked"
        case .allowed: "allowed"
        }
    }
}

struct PlanIntent {
    let plan: IsolationPlan

    /// The seccomp action the filter takes for `syscall` called with `args`
    /// (argument index → value): the first rule that matches, else the default.
    func seccompAction(_ syscall: String, args: [Int: UInt64] = [:]) -> SeccompAction {
        for rule in plan.seccomp.rules where rule.syscall == syscall {
            if rule.args.allSatisfy({ Self.holds($0, args[$0.index]) }) { return rule.action }
        }
        return plan.seccomp.defaultAction
    }

    static func holds(_ c: ArgCondition, _ raw: UInt64?) -> Bool {
        guard var arg = raw else { return false }
        if c.width == 32 { arg &= 0xffff_ffff }
        switch c.op {
        case .eq: return arg == c.value
        case .ne: return arg != c.value
        case .lt: return arg < c.value
        case .le: return arg <= c.value
        case .gt: return arg > c.value
        case .ge: return arg >= c.value
        case .maskedEq: return arg & (c.mask ?? ~0) == c.value
        }
    }

    static func intent(of action: SeccompAction) -> Intent {
        switch action {
        case .allow, .log: .allowed
        case .errno(let name, _): .blocked(expected: name)
        case .killProcess, .killThread, .trap: .blocked(expected: "killed-by-signal-31")
        }
    }

    func syscallIntent(_ syscall: String, args: [Int: UInt64] = [:]) -> Intent {
        let intent = Self.intent(of: seccompAction(syscall, args: args))
        // The degraded mode's second filter (no UDP, no io_uring): the stricter answer wins.
        guard intent == .allowed, let extra = plan.degraded?.seccomp else { return intent }
        for rule in extra.rules where rule.syscall == syscall {
            if rule.args.allSatisfy({ Self.holds($0, args[$0.index]) }) { return Self.intent(of: rule.action) }
        }
        return intent
    }

    /// `--isolation landlock`: rows for what only namespaces block are expected
    /// `allowed` and reported as losses, not failures.
    var degraded: Bool { plan.isolation == .landlock }

    var otherArchitecturesIntent: Intent { Self.intent(of: plan.seccomp.otherArchitectures) }

    /// The mount entry that decides what `path` is inside: the last one whose target
    /// contains it (later entries are mounted over earlier ones).
    func cover(_ path: String) -> MountEntry? {
        plan.mounts.last { entry in
            guard entry.kind != .symlink else { return false }
            return path == entry.target || path.hasPrefix(entry.target == "/" ? "/" : entry.target + "/")
        }
    }

    /// The host path that `path` inside is, when a bind makes it the host's.
    func hostPath(_ path: String) -> String? {
        guard let entry = cover(path), entry.kind == .bind || entry.kind == .device, let source = entry.source
        else { return nil }
        return source + path.dropFirst(entry.target.count)
    }

    /// Whether the host file at `path` can be seen inside at the same path.
    func hostVisible(_ path: String) -> Bool { hostPath(path) == path }

    /// Whether `path` inside is on a writable mount (bind rw, or a rw tmpfs).
    func writable(_ path: String) -> Bool {
        guard let entry = cover(path) else { return false }  // the tmpfs root is made read-only
        switch entry.kind {
        case .bind, .tmpfs: return !entry.isReadOnly
        default: return false
        }
    }

    /// The capability mask the plan keeps.
    var capabilityMask: UInt64 {
        plan.capabilities.keep.reduce(0) { $0 | (1 << UInt64($1.number)) }
    }

    var coreLimit: UInt64? {
        guard let core = plan.rlimits.first(where: { $0.resource == "core" }) else { return nil }
        return core.soft ?? UInt64.max
    }

    func passesVariable(_ name: String) -> Bool { plan.environment.set.contains { $0.name == name } }

    func has(_ namespace: Namespace) -> Bool { plan.namespaces.contains(namespace) }
}
