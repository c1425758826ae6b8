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

    /// - Parameters:
    ///   - audit: deliver every errno denial to the supervisor, which logs it and answers
    ///     with the same errno (the outcome the plan says, now with a record).
    ///   - egress: also deliver connect/sendto with an address, so attempts to leave the
    ///     sandbox are logged (only with a private network namespace, where they fail anyway).
    init(plan: SeccompPlan, audit: Bool = false, egress: Bool = false) throws(LaunchError) {
        guard let ctx = seccomp_init(Self.actionValue(plan.defaultAction)) else {
            throw LaunchError(step: "seccomp: init", message: "libseccomp could not create a filter")
        }
        defer { seccomp_release(ctx) }
        func check(_ rc: Int32, _ what: String) throws(LaunchError) {
            if rc < 0 { throw LaunchError(step: "seccomp: \(what)", errno: -rc, message: "libseccomp refused it") }
        }
        try check(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, Self.actionValue(plan.otherArchitectures)),
                  "other-architectures action")
        // no_new_privs is set by the launcher itself, explicitly, just before loading.
        try check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "no_new_privs attribute")
        // A binary tree keeps the cost of allowed syscalls flat however long the deny list.
        try check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2), "binary-tree optimisation")

        // A call is audited when all its rules deny with one errno: the notification
        // carries no rule id, so the answer must not depend on which rule matched.
        var errnoBySyscall: [Int32: (name: String, errno: Int32)?] = [:]
        if audit {
            for rule in plan.rules {
                guard case .errno(let name, let number) = rule.action else {
                    errnoBySyscall[rule.number] = .some(nil)
                    continue
                }
                switch errnoBySyscall[rule.number] {
                case nil: errnoBySyscall[rule.number] = (name, number)
                case .some(let existing?) where existing.errno == number: break
                default: errnoBySyscall[rule.number] = .some(nil)
                }
            }
        }
        for rule in plan.rules {
            var conditions = rule.args.map(Self.comparison)
            var action = Self.actionValue(rule.action)
            if rule.number >= 0, let entry = errnoBySyscall[rule.number], let denial = entry {
                action = Self.notifyAction
                if !auditRules.contains(where: { $0.number == rule.number }) {
                    auditRules.append(AuditRule(number: rule.number, kind: .deny, errno: denial.errno,
                                                syscall: rule.syscall, errnoName: denial.name))
                }
            }
            let rc = conditions.withUnsafeMutableBufferPointer {
                seccomp_rule_add_array(ctx, action, rule.number, UInt32($0.count), $0.baseAddress)
            }
            try check(rc, "rule for \(rule.syscall)")
        }
        if egress && plan.defaultAction == .allow {
            let ruled = Set(plan.rules.map(\.number))
            // connect always; sendto only with an address (without one it sends on a
            // connected socket, whose connect was already audited).
            for (name, onlyWithAddress) in [("connect", false), ("sendto", true)] {
                let number = seccomp_syscall_resolve_name(name)
                guard number >= 0, !ruled.contains(number), let address = AuditDetail(syscall: name).addressArgument
                else { continue }
                var conditions = onlyWithAddress ? [scmp_arg_cmp(arg: UInt32(address), op: SCMP_CMP_NE,
                                                                 datum_a: 0, datum_b: 0)] : []
                let rc = conditions.withUnsafeMutableBufferPointer {
                    seccomp_rule_add_array(ctx, Self.notifyAction, number, UInt32($0.count), $0.baseAddress)
                }
                try check(rc, "audit rule for \(name)")
                auditRules.append(AuditRule(number: number, kind: .egress, errno: ENETUNREACH, syscall: name,
                                            errnoName: "ENETUNREACH"))
            }
        }

        // Export through a memfd: libseccomp 2.5 has no export-to-memory call.
        let fd = try sys("seccomp: memfd for export") { lpa_memfd("lpa-seccomp") }
        defer { close(fd) }
        try check(seccomp_export_bpf(ctx, fd), "export BPF")
        let size = try sys("seccomp: read BPF") { lseek(fd, 0, SEEK_END) }
        var program = [sock_filter](repeating: sock_filter(), count: Int(size) / MemoryLayout<sock_filter>.size)
        let got = program.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        if got != Int(size) { throw LaunchError(step: "seccomp: read BPF", errno: errno, message: "short read") }
        instructions = program
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
