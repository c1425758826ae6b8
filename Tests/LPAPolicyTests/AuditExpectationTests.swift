import Testing
@testable import LPAPolicy

/// Which audited refusals the plan marks as handled by design: policy, decided once in
/// the compiler so that the audit log and the exit report agree.
@Suite struct AuditExpectationTests {
    @Test func strictExpectsOnlyClone3WithENOSYS() throws {
        let plan = try Fixture.compile("extends: strict\n")
        let expected = plan.audit.calls.filter { $0.expected != nil }
        #expect(expected.map(\.syscall) == ["clone3"])
        #expect(expected.first?.answer == .errno(name: "ENOSYS", number: ErrnoNames.number("ENOSYS")!))
        // The rest still count: ptrace, mount, the egress calls.
        for name in ["ptrace", "mount", "connect"] {
            #expect(plan.audit.calls.contains { $0.syscall == name && $0.expected == nil }, "\(name)")
        }
    }

    /// glibc falls back to clone only on ENOSYS: a clone3 denied with EPERM makes
    /// pthread_create fail, so that refusal matters and is not expected.
    @Test func clone3DeniedWithAnotherErrnoIsNotExpected() throws {
        for (errno, expected) in [("EPERM", nil), ("ENOSYS", "glibc falls back to clone")] {
            let plan = try Fixture.compile("""
                seccomp:
                  default: allow
                  rules:
                    - {syscall: clone3, action: deny, errno: \(errno)}
                """)
            let clone3 = try #require(plan.audit.calls.first { $0.syscall == "clone3" })
            #expect(clone3.answer == .errno(name: errno, number: ErrnoNames.number(errno)!))
            #expect(clone3.expected == expected, "\(errno)")
        }
    }

    /// The flag words the report; the outcome is the same, so the digest ignores it.
    @Test func theExpectationIsNotPartOfTheDigest() throws {
        let plan = try Fixture.compile("extends: strict\n")
        var unflagged = plan
        unflagged.audit.calls = plan.audit.calls.map { var c = $0; c.expected = nil; return c }
        #expect(PlanDigest.digest(of: plan) == PlanDigest.digest(of: unflagged))
    }

    @Test func dryRunTextAndJSONShowTheExpectation() throws {
        let plan = try Fixture.compile("extends: strict\n")
        #expect(PlanFormatter.text(plan).contains("expected        clone3 (errno(ENOSYS)): glibc falls back to clone"))
        #expect(PlanFormatter.json(plan).contains("\"expected\" : \"glibc falls back to clone\""))
    }
}
