/// The plan's seccomp section as a Docker/Podman/OCI seccomp profile
/// (`defaultAction`, `defaultErrnoRet`, `architectures`,
/// `syscalls[{names, action, errnoRet, args[{index, value, valueTwo, op}]}]`): the same
/// object is `linux.seccomp` of an OCI config.json and a Kubernetes `Localhost` profile.
/// It is written from the plan's libseccomp resolution (numbers known, groups expanded,
/// argument rules spelled out), so the engines' libseccomp builds the same filter the
/// launcher builds (SeccompFilter.swift), comparison for comparison.
enum SeccompExport {
    struct Profile {
        var json: ExportValue
        var parity: [ParityRow]
    }

    static func profile(_ plan: IsolationPlan) -> Profile {
        let seccomp = plan.seccomp
        var parity: [ParityRow] = []
        var fields: [(String, ExportValue)] = [("defaultAction", .string(action(seccomp.defaultAction)))]
        if case .errno(_, let number) = seccomp.defaultAction { fields.append(("defaultErrnoRet", .int(Int64(number)))) }
        parity.append(ParityRow("seccomp.defaultAction", .exact, "defaultAction \(action(seccomp.defaultAction))"))

        // Another ABI: listing only the native architecture makes libseccomp apply its
        // bad-architecture action to every call through another one (i386 int $0x80, x32).
        var architectures = [architecture(seccomp.architecture)]
        switch seccomp.otherArchitectures {
        case .killProcess, .killThread:
            parity.append(ParityRow("seccomp.otherArchitectures",
                                    seccomp.otherArchitectures == .killThread ? .exact : .approximate,
                                    "only \(architectures[0]) is listed: a call through another ABI gets libseccomp's "
                                        + "bad-architecture action, which kills the calling thread (the format has no "
                                        + "field for kill-process); a single-threaded caller dies the same way"))
        case .allow:
            architectures += companions(seccomp.architecture).map(architecture)
            parity.append(ParityRow("seccomp.otherArchitectures", .approximate,
                                    "the other ABIs are listed, so the rules apply to them too instead of none"))
        default:
            parity.append(ParityRow("seccomp.otherArchitectures", .approximate,
                                    "only \(architectures[0]) is listed: other ABIs are killed instead of "
                                        + "\(seccomp.otherArchitectures)"))
        }
        fields.append(("architectures", .array(architectures.map { .string($0) })))

        // Rules without arguments and with the same action are merged into one entry
        // (names are ORed); each argument rule keeps an entry of its own (args are ANDed).
        var entries: [(names: [String], action: SeccompAction, args: [ExportValue])] = []
        var skipped: [String] = []
        var widened: [String] = []
        for rule in seccomp.rules {
            // A pseudo-syscall this architecture lacks: libseccomp adds nothing for it in
            // the run either, and engines reject or warn about names they cannot resolve.
            guard rule.number >= 0 else { skipped.append(rule.syscall); continue }
            if rule.args.isEmpty, let last = entries.last, last.args.isEmpty, last.action == rule.action {
                entries[entries.count - 1].names.append(rule.syscall)
                continue
            }
            var args: [ExportValue] = []
            for condition in rule.args {
                let (value, exact) = argument(condition)
                if !exact { widened.append(rule.syscall) }
                args.append(value)
            }
            entries.append(([rule.syscall], rule.action, args))
        }
        fields.append(("syscalls", .array(entries.map { entry in
            var object: [(String, ExportValue)] = [("names", .array(entry.names.map { .string($0) })),
                                                   ("action", .string(action(entry.action)))]
            if case .errno(_, let number) = entry.action { object.append(("errnoRet", .int(Int64(number)))) }
            if !entry.args.isEmpty { object.append(("args", .array(entry.args))) }
            return .object(object)
        })))

        let argumentRules = seccomp.rules.filter { !$0.args.isEmpty && $0.number >= 0 }.count
        var how = "\(seccomp.rules.count - skipped.count) rules in \(entries.count) entries, \(argumentRules) with "
            + "argument conditions (32-bit compares as SCMP_CMP_MASKED_EQ with mask 0xffffffff), each with the "
            + "plan's errno"
        if !skipped.isEmpty {
            how += "; left out, as in the run, for lack of a number on \(seccomp.architecture): "
                + Array(Set(skipped)).sorted().joined(separator: ", ")
        }
        if widened.isEmpty {
            parity.append(ParityRow("seccomp.rules", .exact, how))
        } else {
            parity.append(ParityRow("seccomp.rules", .approximate,
                                    how + "; 32-bit ordered compares become 64-bit ones for "
                                        + Array(Set(widened)).sorted().joined(separator: ", ")))
        }
        return Profile(json: .object(fields), parity: parity)
    }

    /// One `args` element. Width 32 (ioctl requests) compares the low 32 bits only,
    /// exactly as SeccompFilter.comparison loads it: SCMP_CMP_MASKED_EQ with the mask
    /// cut to 32 bits. For SCMP_CMP_MASKED_EQ `value` is the mask and `valueTwo` the
    /// datum (libseccomp's datum_a and datum_b, as runc and crun pass them).
    static func argument(_ c: ArgCondition) -> (ExportValue, exact: Bool) {
        func entry(_ op: String, _ value: UInt64, _ valueTwo: UInt64? = nil) -> ExportValue {
            var pairs: [(String, ExportValue)] = [("index", .int(Int64(c.index))), ("value", .uint(value))]
            if let valueTwo { pairs.append(("valueTwo", .uint(valueTwo))) }
            pairs.append(("op", .string(op)))
            return .object(pairs)
        }
        if c.width == 32 && (c.op == .eq || c.op == .maskedEq) {
            let mask: UInt64 = (c.op == .maskedEq ? (c.mask ?? ~0) : ~0) & 0xffff_ffff
            return (entry("SCMP_CMP_MASKED_EQ", mask, c.value & mask), true)
        }
        let exact = c.width == 64
        switch c.op {
        case .eq: return (entry("SCMP_CMP_EQ", c.value), exact)
        case .ne: return (entry("SCMP_CMP_NE", c.value), exact)
        case .lt: return (entry("SCMP_CMP_LT", c.value), exact)
        case .le: return (entry("SCMP_CMP_LE", c.value), exact)
        case .gt: return (entry("SCMP_CMP_GT", c.value), exact)
        case .ge: return (entry("SCMP_CMP_GE", c.value), exact)
        case .maskedEq: return (entry("SCMP_CMP_MASKED_EQ", c.mask ?? ~0, c.value), exact)
        }
    }

    static func action(_ a: SeccompAction) -> String {
        switch a {
        case .allow: "SCMP_ACT_ALLOW"
        case .errno: "SCMP_ACT_ERRNO"
        case .killProcess: "SCMP_ACT_KILL_PROCESS"
        case .killThread: "SCMP_ACT_KILL_THREAD"
        case .trap: "SCMP_ACT_TRAP"
        case .log: "SCMP_ACT_LOG"
        }
    }

    /// libseccomp's architecture name ("x86_64") as the format writes it ("SCMP_ARCH_X86_64").
    static func architecture(_ name: String) -> String { "SCMP_ARCH_" + name.uppercased() }

    /// The ABIs a kernel of this architecture also runs.
    static func companions(_ name: String) -> [String] {
        switch name {
        case "x86_64": ["x86", "x32"]
        case "aarch64": ["arm"]
        case "ppc64le": ["ppc64", "ppc"]
        case "s390x": ["s390"]
        default: []
        }
    }

    /// Syscall names the plan denies outright (no argument condition), for targets that
    /// take a plain deny list (systemd's SystemCallFilter=~).
    static func plainDenials(_ seccomp: SeccompPlan) -> [(name: String, action: SeccompAction)] {
        seccomp.rules.filter { $0.args.isEmpty && $0.number >= 0 }.map { ($0.syscall, $0.action) }
    }
}
