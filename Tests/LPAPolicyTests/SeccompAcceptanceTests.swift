import CSeccomp
import Testing
@testable import LPAPolicy

/// The plans' seccomp rules are accepted by libseccomp as they are: builds a
/// filter in memory (never loaded) from each golden profile.
struct SeccompAcceptanceTests {
    static func action(_ action: SeccompAction) -> UInt32 {
        switch action {
        case .allow: 0x7fff_0000  // SCMP_ACT_ALLOW
        case .errno(_, let number): 0x0005_0000 | (UInt32(number) & 0xffff)  // SCMP_ACT_ERRNO
        case .killProcess: 0x8000_0000
        case .killThread: 0
        case .trap: 0x0003_0000
        case .log: 0x7ffc_0000
        }
    }

    static func op(_ op: ArgCondition.Op) -> scmp_compare {
        switch op {
        case .ne: SCMP_CMP_NE
        case .lt: SCMP_CMP_LT
        case .le: SCMP_CMP_LE
        case .eq: SCMP_CMP_EQ
        case .ge: SCMP_CMP_GE
        case .gt: SCMP_CMP_GT
        case .maskedEq: SCMP_CMP_MASKED_EQ
        }
    }

    @Test(arguments: ["strict", "gpu", "server", "relaxed", "allowlist"])
    func libseccompAcceptsEveryRule(_ name: String) throws {
        let loader = InMemoryProfileLoader(profiles: GoldenTests.fixtures.map(Fixture.fixtureProfile))
        let reference = GoldenTests.fixtures.contains(name) ? "fixtures/\(name).yaml" : name
        let plan = try PolicyCompiler(loader: loader, context: Fixture.context)
            .compile(profile: reference, command: Fixture.command).plan.seccomp
        let filter = try #require(seccomp_init(Self.action(plan.defaultAction)))
        defer { seccomp_release(filter) }
        for rule in plan.rules where rule.number >= 0 {
            var conditions = rule.args.map { arg in
                // A 32-bit comparison ignores the upper half, as SCMP_CMP32 does.
                let mask = arg.width == 32 ? (arg.mask ?? 0xffff_ffff) & 0xffff_ffff : arg.mask
                if arg.op == .maskedEq || arg.width == 32, let mask {
                    return scmp_arg_cmp(arg: UInt32(arg.index), op: SCMP_CMP_MASKED_EQ, datum_a: mask, datum_b: arg.value)
                }
                return scmp_arg_cmp(arg: UInt32(arg.index), op: Self.op(arg.op), datum_a: arg.value, datum_b: 0)
            }
            let result = seccomp_rule_add_exact_array(filter, Self.action(rule.action), rule.number,
                                                       UInt32(conditions.count), &conditions)
            #expect(result == 0, "\(rule.syscall) \(rule.action) \(rule.args): \(result)")
        }
    }
}
