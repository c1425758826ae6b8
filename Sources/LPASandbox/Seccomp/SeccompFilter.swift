#if canImport(Glibc)
import Glibc
#endif
import CShims
import CWindow
import CSeccomp
import LPAPolicy

/// Builds the plan's seccomp filter with libseccomp, before clone: the child only loads
/// the finished BPF program with one seccomp(2) call right before execve.
struct SeccompFilter {
    /// The classic BPF instructions, 8 bytes each.
    private(set) var instructions: [sock_filter]
    /// With auditing, the calls delivered to the supervisor and how to answer them.
    private(set) var auditRules: [AuditRule] = []

    /// SCMP_ACT_NOTIFY: hand the call to the supervisor (seccomp user notification).
    static let notifyAction: UInt32 = 0x7fc0_0000
    static let allowAction: UInt32 = 0x7fff_0000
    /// Whether allowed calls are notified for `lpa-run learn`.
    let record: Bool

    /// Calls window.c makes after loading the filter and before lpa-run holds the
    /// listener (sendmsg and close hand it over; write and exit_group report a failed
    /// step; execve starts the command, and lpa-run takes the listener only after it
    /// succeeded). Notified, they would wait forever; in record mode they stay plain
    /// allows, and a learned profile always allows them (LauncherCallCheck requires it).
    public static let unrecordedCalls = ["execve", "sendmsg", "close", "write", "exit_group"]

    static func nativeNumber(_ name: String) -> Int32? {
        let number = seccomp_syscall_resolve_name(name)
        return number < 0 ? nil : number
    }

    /// In record mode, what an allowing action becomes: a notification.
    static func recorded(_ action: SeccompAction) -> UInt32 {
        switch action {
        case .allow, .log: notifyAction
        default: actionValue(action)
        }
    }

    // libseccomp's SCMP_ACT_* are function-like macros that Swift cannot import.
    static func actionValue(_ action: SeccompAction) -> UInt32 {
        switch action {
        case .allow: 0x7fff_0000
        case .errno(_, let number): 0x0005_0000 | (UInt32(bitPattern: number) & 0xffff)
        case .killProcess: 0x8000_0000
        case .killThread: 0x0000_0000
        case .trap: 0x0003_0000
        case .log: 0x7ffc_0000
        }
    }

    /// One seccomp_rule_add_array call, as libseccomp is given it.
    struct RuleCall {
        var action: UInt32
        var number: Int32
        var conditions: [scmp_arg_cmp]
        /// For the error message (step "seccomp: WHAT").
        var what: String
    }

    /// - Parameter audit: the plan's calls for the supervisor: each is loaded as
    ///   SECCOMP_RET_USER_NOTIF instead of its kernel action, and the supervisor answers
    ///   with the same outcome, now with a record (see AuditPlan).
    /// - Parameter record: record mode (`lpa-run learn`): every call the filter allows is
    ///   notified instead (audit.c continues it and notes its number), except the calls
    ///   the sandbox makes itself between loading the filter and the supervisor taking
    ///   the listener (`unrecordedCalls`), which would wait for an answer nobody can give
    ///   yet. Denials and their answers stay as they are.
    /// - Parameter cache: where a filter built before is taken from, and a new one kept
    ///   (`FilterCache`); nil: always built. The rule calls are worked out first, then
    ///   built by libseccomp or found under exactly those calls.
    init(plan: SeccompPlan, audit: AuditPlan = AuditPlan(), record: Bool = false,
         cache: FilterCache? = nil) throws(LaunchError) {
        self.record = record
        let defaultAction = record ? Self.recorded(plan.defaultAction) : Self.actionValue(plan.defaultAction)
        let otherArchitectures = Self.actionValue(plan.otherArchitectures)
        var calls: [RuleCall] = []

        for call in audit.calls {
            switch call.answer {
            case .errno(let name, let number):
                auditRules.append(AuditRule(number: call.number, kind: .deny, errno: number, syscall: call.syscall,
                                            errnoName: name, expected: call.expected))
            case .egress:
                auditRules.append(AuditRule(number: call.number, kind: .egress, errno: ENETUNREACH,
                                            syscall: call.syscall, errnoName: "ENETUNREACH"))
            }
        }
        if record {
            // A notification carries no rule: audit.c tells a notified denial from a
            // notified allow by the number alone. A call denied only for some arguments
            // (socket families, personality flags, ioctl requests) is also allowed for
            // others, so in record mode its denials stay in the kernel, unlogged.
            let conditional = Set(plan.rules.filter { !$0.args.isEmpty }.map(\.number))
            auditRules.removeAll { $0.kind == .deny && conditional.contains($0.number) }
        }
        let denialsToNotify = Set(auditRules.filter { $0.kind == .deny }.map(\.number))
        let unrecorded = Set(Self.unrecordedCalls.compactMap { Self.nativeNumber($0) })
        for rule in plan.rules {
            let conditions = rule.args.map(Self.comparison)
            var action = denialsToNotify.contains(rule.number) ? Self.notifyAction : Self.actionValue(rule.action)
            if record && !unrecorded.contains(rule.number) && !denialsToNotify.contains(rule.number) {
                action = Self.recorded(rule.action)
            }
            // libseccomp refuses a rule with the default action (EACCES); it would change
            // nothing, as a call no other rule matches gets the default anyway (a
            // default-deny allowlist with connect-ports: the MSG_FASTOPEN denial).
            if action == defaultAction { continue }
            calls.append(RuleCall(action: action, number: rule.number, conditions: conditions,
                                  what: "rule for \(rule.syscall)"))
        }
        // In record mode with allowing default every call is notified already (audit.c
        // continues a sendto without an address, as this rule's condition would).
        for rule in auditRules where rule.kind == .egress && !(record && defaultAction == Self.notifyAction) {
            // connect always; sendto only with an address (without one it sends on a
            // connected socket, whose connect was already audited).
            let conditions = rule.syscall == "sendto"
                ? [scmp_arg_cmp(arg: UInt32(rule.detail.addressArgument ?? 4), op: SCMP_CMP_NE,
                                datum_a: 0, datum_b: 0)] : []
            calls.append(RuleCall(action: Self.notifyAction, number: rule.number, conditions: conditions,
                                  what: "audit rule for \(rule.syscall)"))
        }

        if record && defaultAction == Self.notifyAction {
            for number in unrecorded {
                let rules = plan.rules.filter { $0.number == number }
                // An unconditional rule already says what the call does without a notification.
                if rules.contains(where: { $0.args.isEmpty }) { continue }
                // Denied only for some arguments (sendmsg with MSG_FASTOPEN under
                // connect-ports): those denials stay, and the rest must be a plain allow,
                // not the notifying default. An unconditional allow would replace the
                // conditional rules (libseccomp keeps the shorter rule), so the allow
                // carries the complement of their conditions.
                // Conditional allows are plain allows already (unrecorded): only the
                // denials need a complement.
                let denials = rules.filter { rule in
                    switch rule.action {
                    case .allow, .log: false
                    default: true
                    }
                }
                guard let remainder = Self.complement(of: denials) else {
                    let name = rules.first?.syscall ?? String(number)
                    throw LaunchError(step: "seccomp: record-mode allow for \(name)",
                                      message: "the profile's conditional rules for \(name) have no complement lpa-run can express",
                                      hint: "learn under a base without argument rules on \(name)")
                }
                calls.append(RuleCall(action: Self.allowAction, number: number,
                                      conditions: remainder.map(Self.comparison), what: "record-mode allow"))
            }
        }

        let key = FilterCache.key(defaultAction: defaultAction, otherArchitectures: otherArchitectures, calls: calls)
        if let cached = cache?.program(for: key) {
            instructions = cached
            return
        }
        instructions = try Self.build(defaultAction: defaultAction, otherArchitectures: otherArchitectures, calls: calls)
        cache?.keep(instructions, for: key)
    }

    /// The filter from libseccomp: the attributes, then each call in order, exported.
    static func build(defaultAction: UInt32, otherArchitectures: UInt32,
                      calls: [RuleCall]) throws(LaunchError) -> [sock_filter] {
        guard let ctx = seccomp_init(defaultAction) else {
            throw LaunchError(step: "seccomp: init", message: "libseccomp could not create a filter")
        }
        defer { seccomp_release(ctx) }
        func check(_ rc: Int32, _ what: String) throws(LaunchError) {
            if rc < 0 { throw LaunchError(step: "seccomp: \(what)", errno: -rc, message: "libseccomp refused it") }
        }
        try check(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, otherArchitectures), "other-architectures action")
        // no_new_privs is set by the launcher itself, explicitly, just before loading.
        try check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "no_new_privs attribute")
        // A binary tree keeps the cost of allowed syscalls flat however long the deny list.
        try check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2), "binary-tree optimisation")
        for call in calls {
            var conditions = call.conditions
            let rc = conditions.withUnsafeMutableBufferPointer {
                seccomp_rule_add_array(ctx, call.action, call.number, UInt32($0.count), $0.baseAddress)
            }
            try check(rc, call.what)
        }

        // Export through a memfd: libseccomp 2.5 has no export-to-memory call.
        let fd = try sys("seccomp: memfd for export") { lpa_memfd("lpa-seccomp") }
        defer { close(fd) }
        try check(seccomp_export_bpf(ctx, fd), "export BPF")
        let size = try sys("seccomp: read BPF") { lseek(fd, 0, SEEK_END) }
        var program = [sock_filter](repeating: sock_filter(), count: Int(size) / MemoryLayout<sock_filter>.size)
        let got = program.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        if got != Int(size) { throw LaunchError(step: "seccomp: read BPF", errno: errno, message: "short read") }
        return program
    }

    /// Conditions that hold exactly when none of `rules` matches (each rule with one
    /// condition, on distinct arguments: their negations joined by AND); [] when there
    /// are no rules; nil when that cannot be written as one libseccomp rule.
    static func complement(of rules: [SeccompRule]) -> [ArgCondition]? {
        var result: [ArgCondition] = []
        for rule in rules {
            guard rule.args.count == 1, let negated = negation(rule.args[0]),
                  !result.contains(where: { $0.index == negated.index }) else { return nil }
            result.append(negated)
        }
        return result
    }

    /// The condition true exactly when `c` is false, or nil when no single comparison is.
    static func negation(_ c: ArgCondition) -> ArgCondition? {
        var n = c
        switch c.op {
        case .eq, .ne:
            // A 32-bit eq is compared masked (comparison): its negation has no operator.
            guard c.width == 64 else { return nil }
            n.op = c.op == .eq ? .ne : .eq
        case .lt: n.op = .ge
        case .ge: n.op = .lt
        case .le: n.op = .gt
        case .gt: n.op = .le
        case .maskedEq:
            // One bit, set or clear: the negation is the same bit the other way.
            let mask = c.mask ?? ~0
            guard mask.nonzeroBitCount == 1, c.value == 0 || c.value == mask else { return nil }
            n.value = c.value == 0 ? mask : 0
        }
        return n
    }

    static func comparison(_ c: ArgCondition) -> scmp_arg_cmp {
        var op: scmp_compare
        var datumA = c.value
        var datumB: UInt64 = 0
        switch c.op {
        case .eq: op = SCMP_CMP_EQ
        case .ne: op = SCMP_CMP_NE
        case .lt: op = SCMP_CMP_LT
        case .le: op = SCMP_CMP_LE
        case .gt: op = SCMP_CMP_GT
        case .ge: op = SCMP_CMP_GE
        case .maskedEq:
            op = SCMP_CMP_MASKED_EQ
            datumA = c.mask ?? ~0
            datumB = c.value
        }
        // Width 32: compare the low 32 bits only, whatever the caller put in the high ones.
        if c.width == 32 && (c.op == .eq || c.op == .maskedEq) {
            let mask: UInt64 = (c.op == .maskedEq ? (c.mask ?? ~0) : ~0) & 0xffff_ffff
            op = SCMP_CMP_MASKED_EQ
            datumB = c.value & mask
            datumA = mask
        }
        return scmp_arg_cmp(arg: UInt32(c.index), op: op, datum_a: datumA, datum_b: datumB)
    }
}
