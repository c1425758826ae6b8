import CSeccomp
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The profile `lpa-run learn` writes: `extends` the base it ran under, and a default-deny
/// seccomp allowlist of the syscalls the run made (whole `@groups` where every call of one
/// was made), with comments that summarise what was refused while learning. Pure: the
/// launcher's record mode supplies the numbers.
///
/// What it can never do is allow what the base denies: syscalls the base plan denies
/// outright are left out here whatever was recorded, and the base's conditional rules
/// (clone flags, socket families, personality flags, ioctl requests) are inherited keys
/// that the compiler enforces under an allowlist too (SeccompCompiler).
///
/// Everything in comments that the user or the workload chose (the command line, the
/// base's path, addresses, DNS names) goes through `commentText`: printable ASCII only,
/// so nothing can end a comment line and become YAML.
public struct LearnedProfile: Sendable {
    /// What a run observed, besides the syscalls.
    public struct Observations: Sendable {
        /// Refused calls per syscall (the audit's counts), expected ones included.
        public var denied: [(name: String, count: UInt64)] = []
        /// Refused connection attempts by address (the audit's destinations).
        public var destinations: [(address: String, count: UInt64)] = []
        public var otherDestinations: UInt64 = 0
        /// DNS names the workload tried to resolve. Hook for the DNS sink (audit records of
        /// kind "dns", issue 14 part 1): nothing fills it yet; the comment section is ready.
        public var dnsNames: [(name: String, count: UInt64)] = []
        public init() {}
    }

    /// The `extends` value: a file path, or "builtin:NAME".
    public var base: String
    public var command: [String]
    /// ISO 8601, UTC.
    public var date: String
    /// The workload's exit status as lpa-run reports it (128+N: signal N).
    public var exitStatus: Int32
    /// Native syscall numbers the run made and the base allowed.
    public var recorded: [Int32]
    public var baseSeccomp: SeccompPlan
    public var observations: Observations

    public init(base: String, command: [String], date: String, exitStatus: Int32, recorded: [Int32],
                baseSeccomp: SeccompPlan, observations: Observations = Observations()) {
        self.base = base
        self.command = command
        self.date = date
        self.exitStatus = exitStatus
        self.recorded = recorded
        self.baseSeccomp = baseSeccomp
        self.observations = observations
    }

    /// The syscalls the base denies whatever their arguments (an unconditional rule
    /// that does not allow, or no allowing rule under a denying default).
    public var baseDenied: Set<String> {
        var result: Set<String> = []
        var allowedSomehow: Set<String> = []
        for rule in baseSeccomp.rules {
            if rule.action == .allow || rule.action == .log { allowedSomehow.insert(rule.syscall) }
            if rule.args.isEmpty && rule.action != .allow && rule.action != .log { result.insert(rule.syscall) }
        }
        if baseSeccomp.defaultAction != .allow && baseSeccomp.defaultAction != .log {
            for name in SyscallResolver.nativeNames where !allowedSomehow.contains(name) { result.insert(name) }
        }
        return result
    }

    /// The recorded syscalls by name, minus anything the base denies and anything it
    /// restricts by argument through `rules:` (an outright allow would override those:
    /// SeccompCompiler refuses it), sorted.
    public var used: [String] {
        Set(recorded.compactMap(Self.name(of:))).subtracting(baseDenied).subtracting(restrictedByRules).sorted()
    }

    /// Syscalls the base's `rules:` deny for some arguments.
    public var restrictedByRules: Set<String> {
        Set(baseSeccomp.rules.filter { $0.reason == "rule" && !$0.args.isEmpty && $0.action != .allow && $0.action != .log }
            .map(\.syscall))
    }

    /// Recorded calls left out because the base restricts them by argument.
    public var leftOutRestricted: [String] {
        Set(recorded.compactMap(Self.name(of:))).intersection(restrictedByRules).subtracting(baseDenied).sorted()
    }

    /// Recorded calls that the base denies (none expected: a denied call is never
    /// recorded); left out of the allowlist.
    public var leftOut: [String] {
        Set(recorded.compactMap(Self.name(of:))).intersection(baseDenied).sorted()
    }

    /// `used`, with every group all of whose (native) calls were used written as `@name`.
    public var allowList: [String] {
        var remaining = Set(used)
        let all = Set(used)
        var groups: [String] = []
        for group in SyscallGroups.all {
            let members = group.syscalls.filter { (SyscallResolver.number(of: $0) ?? -1) >= 0 }
            guard !members.isEmpty, members.allSatisfy(all.contains) else { continue }
            groups.append("@" + group.name)
            remaining.subtract(members)
        }
        return groups + remaining.sorted()
    }

    static func name(of number: Int32) -> String? {
        guard let name = seccomp_syscall_resolve_num_arch(0 /* SCMP_ARCH_NATIVE */, number) else { return nil }
        defer { free(name) }
        return String(cString: name)
    }

    /// The profile text.
    public var yaml: String {
        var lines: [String] = []
        func comment(_ text: String) { lines.append("# " + Self.commentText(text)) }
        comment("Learned by `lpa-run learn` on \(date), under the base profile \(base).")
        comment("Command: \(Self.shellWords(command))")
        comment("The workload exited with status \(exitStatus)\(exitStatus > 128 ? " (signal \(exitStatus - 128))" : "").")
        comment("Allows only the \(used.count) syscalls that run made (the base denies \(baseDenied.count) outright,")
        comment("and its other rules still apply); a path the run did not take may need more: learn again.")
        if !leftOut.isEmpty { comment("Recorded but denied by the base, so left out: \(leftOut.joined(separator: ", "))") }
        if !leftOutRestricted.isEmpty {
            comment("Recorded but restricted by argument in the base's rules, so left out (allow them through")
            comment("`rules` with the same conditions if the program needs them): \(leftOutRestricted.joined(separator: ", "))")
        }
        lines.append("#")
        comment("Refused while learning (still refused under this profile):")
        if observations.denied.isEmpty {
            comment("  nothing")
        } else {
            for (name, count) in observations.denied.prefix(Self.listLimit) { comment("  \(name) x\(count)") }
            if observations.denied.count > Self.listLimit {
                comment("  ... and \(observations.denied.count - Self.listLimit) more syscalls")
            }
        }
        comment("Connection attempts refused:")
        if observations.destinations.isEmpty {
            comment("  none")
        } else {
            for (address, count) in observations.destinations.prefix(Self.listLimit) { comment("  \(address) x\(count)") }
            if observations.otherDestinations > 0 { comment("  and \(observations.otherDestinations) to other addresses") }
        }
        comment("DNS names it tried to resolve:")
        if observations.dnsNames.isEmpty {
            comment("  none recorded")
        } else {
            for (name, count) in observations.dnsNames.prefix(Self.listLimit) { comment("  \(name) x\(count)") }
        }
        lines.append("extends: " + Self.yamlQuoted(base))
        lines.append("seccomp:")
        lines.append("  default: deny")
        lines.append("  allow:")
        for entry in allowList { lines.append("    - " + Self.yamlQuoted(entry)) }
        return lines.joined(separator: "\n") + "\n"
    }

    static let listLimit = 40
    static let itemBytes = 200

    /// One comment line's text: printable ASCII; a backslash, other bytes and every
    /// line break YAML knows (\n, \r, NEL, LS, PS) become escapes, so nothing ends the
    /// comment. Long text is cut.
    public static func commentText(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if out.utf8.count > 1000 {
                out += "..."
                break
            }
            switch scalar.value {
            case 0x5c: out += "\\\\"
            case 0x20...0x7e: out.unicodeScalars.append(scalar)
            default: out += "\\u{" + String(scalar.value, radix: 16) + "}"
            }
        }
        return out
    }

    /// A YAML double-quoted scalar of printable ASCII (every other character escaped).
    public static func yamlQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5c: out += "\\\\"
            case 0x20...0x7e: out.unicodeScalars.append(scalar)
            case 0...0xffff:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                let hex = String(scalar.value, radix: 16)
                out += "\\U" + String(repeating: "0", count: 8 - hex.count) + hex
            }
        }
        return out + "\""
    }

    /// The command as a shell would take it back (each word cut at `itemBytes`).
    static func shellWords(_ words: [String]) -> String {
        words.map { word in
            let cut = word.utf8.count > itemBytes ? String(decoding: Array(word.utf8.prefix(itemBytes)), as: UTF8.self) + "..." : word
            let plain = !cut.isEmpty && cut.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "_./:=@%+,-".unicodeScalars.contains($0)
            }
            return plain ? cut : "'" + cut.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
        }.joined(separator: " ")
    }
}
