/// Decides which calls go through the audit supervisor: every syscall whose rules all
/// deny with one errno (a notification carries no rule id, so the answer must not
/// depend on which rule matched), and, with a private network namespace and network
/// mode none, connect and sendto-with-an-address, so attempts to leave are recorded.
struct AuditCompiler {
    let seccomp: SeccompPlan
    /// The sandbox has its own network namespace with nothing but loopback.
    let privateNetwork: Bool

    /// connect(fd, addr, len) always; sendto(fd, buf, len, flags, addr, alen) when addr is set.
    static let egressCalls = ["connect", "sendto"]

    /// Refusals that well-behaved programs meet on every run and recover from by design,
    /// each with the only errno its fallback needs: with another errno the program fails
    /// and the refusal matters (glibc falls back from clone3 only on ENOSYS). Found by
    /// running the real servers under strict with --audit-log (docs/plan.md, "audit").
    static let handledByDesign: [String: (errno: String, reason: String)] = [
        "clone3": ("ENOSYS", "glibc falls back to clone"),
    ]

    static func expectation(_ syscall: String, errno: String) -> String? {
        guard let known = handledByDesign[syscall], known.errno == errno else { return nil }
        return known.reason
    }

    func compile() -> AuditPlan {
        var errnoBySyscall: [Int32: (name: String, errno: Int32)?] = [:]
        for rule in seccomp.rules {
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
        var plan = AuditPlan()
        var seen: Set<Int32> = []
        for rule in seccomp.rules where rule.number >= 0 && !seen.contains(rule.number) {
            guard let entry = errnoBySyscall[rule.number], let denial = entry else { continue }
            seen.insert(rule.number)
            plan.calls.append(.init(syscall: rule.syscall, number: rule.number,
                                    answer: .errno(name: denial.name, number: denial.errno),
                                    expected: Self.expectation(rule.syscall, errno: denial.name)))
        }
        if privateNetwork && seccomp.defaultAction == .allow {
            let ruled = Set(seccomp.rules.map(\.number))
            for name in Self.egressCalls {
                guard let number = SyscallResolver.number(of: name), !ruled.contains(number) else { continue }
                plan.calls.append(.init(syscall: name, number: number, answer: .egress))
            }
        }
        return plan
    }
}
