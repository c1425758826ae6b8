import Foundation
import Testing
@testable import LPAPolicy

/// `lpa-run learn`'s profile: an allowlist that extends its base and can never allow
/// what the base denies.
@Suite("learned profiles")
struct LearnedProfileTests {
    /// The strict plan a learn run starts from.
    static func strictSeccomp() throws -> SeccompPlan {
        try Fixture.compile("extends: strict\n").seccomp
    }

    /// Does any rule with `action` for `syscall` match this argument vector?
    static func matches(_ rule: SeccompRule, _ args: [UInt64]) -> Bool {
        rule.args.allSatisfy { c in
            var value = args[c.index]
            if c.width == 32 { value &= 0xffff_ffff }
            switch c.op {
            case .eq: return value == c.value & (c.width == 32 ? 0xffff_ffff : ~0)
            case .ne: return value != c.value
            case .lt: return value < c.value
            case .le: return value <= c.value
            case .gt: return value > c.value
            case .ge: return value >= c.value
            case .maskedEq:
                let mask = (c.mask ?? ~0) & (c.width == 32 ? 0xffff_ffff : ~0)
                return value & mask == c.value & mask
            }
        }
    }

    /// The outcome of a call as the kernel would see it (the first matching rule of the
    /// syscall decides; libseccomp orders denials before allows only in this plan's own
    /// sense, so the test asks for "no allowing rule matches").
    static func allowed(_ plan: SeccompPlan, _ syscall: String, _ args: [UInt64] = [0, 0, 0, 0, 0, 0]) -> Bool {
        let rules = plan.rules.filter { $0.syscall == syscall }
        if rules.isEmpty { return plan.defaultAction == .allow }
        let matching = rules.filter { matches($0, args) }
        if matching.contains(where: { $0.action != .allow }) { return false }
        if matching.contains(where: { $0.action == .allow }) { return true }
        return plan.defaultAction == .allow
    }

    @Test("a learned allowlist of everything strict allows still denies every escape class strict denies")
    func learnedKeepsStrictDenials() throws {
        let strict = try Self.strictSeccomp()
        // Every native syscall recorded, as if the run had made them all (denied ones too:
        // the learner must drop them, whatever the record says).
        let everything = (0..<1024).map(Int32.init).filter { LearnedProfile.name(of: $0) != nil }
        let learned = LearnedProfile(base: "builtin:strict", command: ["srv"], date: "2026-11-28T00:00:00Z",
                                     exitStatus: 0, recorded: everything, baseSeccomp: strict)
        #expect(learned.leftOut.contains("mount"))
        #expect(!learned.allowList.contains("mount") && !learned.allowList.contains("ptrace"))
        let compilation = try Fixture.compiler(["learned.yaml": learned.yaml])
            .compile(profile: "learned.yaml", command: Fixture.command, overrides: .init())
        #expect(compilation.warnings.isEmpty, "\(compilation.warnings.map(\.message))")
        let plan = compilation.plan.seccomp
        #expect(plan.defaultAction == .errno(name: "EPERM", number: 1))
        for group in SyscallGroups.all {
            for name in group.syscalls where (SyscallResolver.number(of: name) ?? -1) >= 0 {
                #expect(!Self.allowed(plan, name), "@\(group.name) \(name) is allowed by the learned profile")
            }
        }
        // Strict's conditional denials, enforced under the allowlist.
        let tiocsti: UInt64 = 0x5412
        #expect(!Self.allowed(plan, "ioctl", [1, tiocsti, 0, 0, 0, 0]), "TIOCSTI")
        #expect(!Self.allowed(plan, "ioctl", [1, tiocsti | 0xffff_ffff_0000_0000, 0, 0, 0, 0]), "TIOCSTI, high bits set")
        for request: UInt64 in [0x541C, 0x5423, 0x541D] {
            #expect(!Self.allowed(plan, "ioctl", [1, request, 0, 0, 0, 0]))
        }
        #expect(Self.allowed(plan, "ioctl", [1, 0x5401, 0, 0, 0, 0]), "TCGETS stays allowed")
        #expect(Self.allowed(plan, "ioctl", [1, 0xc0186201, 0, 0, 0, 0]))
        #expect(!Self.allowed(plan, "clone", [0x1000_0000 /* CLONE_NEWUSER */, 0, 0, 0, 0, 0]))
        #expect(Self.allowed(plan, "clone", [0x3d0f00 /* a thread */, 0, 0, 0, 0, 0]))
        #expect(plan.rules.contains { $0.syscall == "clone3" && $0.action == .errno(name: "ENOSYS", number: 38) })
        #expect(!Self.allowed(plan, "socket", [16 /* AF_NETLINK */, 3, 0, 0, 0, 0]))
        #expect(Self.allowed(plan, "socket", [2, 1, 0, 0, 0, 0]))
        #expect(!Self.allowed(plan, "personality", [0x0040_0000 /* READ_IMPLIES_EXEC */, 0, 0, 0, 0, 0]))
        #expect(Self.allowed(plan, "read"))
    }

    @Test("an allowlist's ioctl-deny is enforced, not a warning; the blocks cover every other request")
    func ioctlDenyUnderAllowlist() throws {
        let compilation = try Fixture.compiler(["p.yaml": """
            seccomp:
              default: deny
              allow: [ioctl, execve, read]
              ioctl-deny: [TIOCSTI, TIOCLINUX]
            """]).compile(profile: "p.yaml", command: Fixture.command, overrides: .init())
        #expect(compilation.warnings.isEmpty, "\(compilation.warnings.map(\.message))")
        let plan = compilation.plan.seccomp
        #expect(!plan.rules.contains { $0.syscall == "ioctl" && $0.args.isEmpty })
        for request: UInt64 in [0, 1, 0x5411, 0x5413, 0x541B, 0x541D, 0xffff_ffff, 0x8000_5412] {
            #expect(Self.allowed(plan, "ioctl", [0, request, 0, 0, 0, 0]), "\(String(request, radix: 16))")
        }
        #expect(!Self.allowed(plan, "ioctl", [0, 0x5412, 0, 0, 0, 0]))
        #expect(!Self.allowed(plan, "ioctl", [0, 0x541C, 0, 0, 0, 0]))
        let blocks = SeccompCompiler.complementBlocks([0x5412])
        #expect(blocks.count == 32)
    }

    @Test("comments cannot become YAML: the command, base and names are escaped")
    func commentsAreEscaped() throws {
        var observations = LearnedProfile.Observations()
        observations.dnsNames = [("evil\nseccomp: {default: allow}", 1)]
        observations.destinations = [("10.0.0.1:53\r\u{2028}x: 1", 2)]
        let learned = LearnedProfile(base: "/tmp/a\"b\n\u{85}c.yaml", command: ["sh", "-c", "x\ndefault: allow # '"],
                                     date: "2026-11-28T00:00:00Z", exitStatus: 143,
                                     recorded: [0, 1], baseSeccomp: try Self.strictSeccomp(), observations: observations)
        let text = learned.yaml
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            #expect(line.isEmpty || line.hasPrefix("#") || line.hasPrefix("extends: \"") || line.hasPrefix("seccomp:")
                    || line.hasPrefix("  ") , "unexpected line: \(line)")
        }
        #expect(text.unicodeScalars.allSatisfy { $0.value == 0x0a || (0x20...0x7e).contains($0.value) })
        #expect(text.contains("extends: \"/tmp/a\\\"b\\u000a\\u0085c.yaml\""))
        #expect(text.contains("(signal 15)"))
        #expect(text.contains("'x\\u{a}default: allow # '\\\\''"))
    }

    @Test("a base's argument rule is never overridden: the learner leaves the call out, the compiler refuses an outright allow")
    func baseArgumentRules() throws {
        let baseText = "extends: strict\nseccomp:\n  rules:\n    - {syscall: kill, action: deny, args: [{index: 1, op: eq, value: 9}]}\n"
        let base = try Fixture.compiler(["base.yaml": baseText])
            .compile(profile: "base.yaml", command: Fixture.command, overrides: .init()).plan.seccomp
        let numbers = ["kill", "read", "execve", "sendmsg", "close"].compactMap(SyscallResolver.number(of:))
        let learned = LearnedProfile(base: "base.yaml", command: [], date: "", exitStatus: 0, recorded: numbers,
                                     baseSeccomp: base)
        #expect(!learned.allowList.contains("kill") && learned.allowList.contains("read"))
        #expect(learned.yaml.contains("so left out"))
        let compiler = Fixture.compiler(["base.yaml": baseText, "learned.yaml": learned.yaml])
        #expect(throws: Never.self) { try compiler.compile(profile: "learned.yaml", command: Fixture.command, overrides: .init()) }
        let edited = learned.yaml.replacingOccurrences(of: "    - \"read\"", with: "    - \"read\"\n    - \"kill\"")
        let refused = Fixture.compiler(["base.yaml": baseText, "learned.yaml": edited])
        do {
            _ = try refused.compile(profile: "learned.yaml", command: Fixture.command, overrides: .init())
            Issue.record("an outright allow of kill over the base's argument rule compiled")
        } catch {
            #expect(error.diagnostics.contains { $0.message.contains("cannot be enforced") }, "\(error.diagnostics)")
        }
    }

    @Test("whole groups are written as @name")
    func groups() throws {
        // An allowlist base: nothing denied outright but what it does not allow.
        let base = SeccompPlan(architecture: "x86_64", defaultAction: .allow, otherArchitectures: .killProcess, rules: [])
        let numbers = ["unshare", "setns", "read"].compactMap(SyscallResolver.number(of:))
        let learned = LearnedProfile(base: "builtin:strict", command: [], date: "", exitStatus: 0,
                                     recorded: numbers, baseSeccomp: base)
        #expect(learned.allowList == ["@namespaces", "read"])
    }
}
