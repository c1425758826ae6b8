/// The workload loads its seccomp filter before lpa-run's last steps inside the sandbox
/// (window.c `exec_workload`): with an audit listener it sends the listener to lpa-run
/// (sendmsg) and closes its own copy (close), then it calls execve. A filter that denies
/// one of those would hang the launch (a notified call waits for a listener nobody holds
/// yet) or make it fail in a way that names the wrong cause, so such a plan is refused
/// here, at the profile line that denied the call.
struct LauncherCallCheck {
    let seccomp: SeccompCompiler.Compiled
    let audit: AuditPlan

    /// Always made after the filter is loaded, and why.
    static let always: [(syscall: String, purpose: String)] = [("execve", "to start the command")]
    /// Made only when the filter has an audit listener to hand over.
    static let withAuditListener: [(syscall: String, purpose: String)] = [
        ("sendmsg", "to hand the audit listener to lpa-run"), ("close", "to close its copy of the audit listener"),
    ]

    func check(_ diagnostics: inout [Diagnostic]) {
        let needed = Self.always + (audit.calls.isEmpty ? [] : Self.withAuditListener)
        let plan = seccomp.plan
        for (name, purpose) in needed {
            guard let number = SyscallResolver.number(of: name) else { continue }
            let rules = plan.rules.indices.filter { plan.rules[$0].number == number }
            let allowedOutright = rules.contains { plan.rules[$0].action == .allow && plan.rules[$0].args.isEmpty }
            let denying = rules.first { plan.rules[$0].action != .allow }
            if denying == nil && (plan.defaultAction == .allow || allowedOutright) { continue }
            let action = denying.map { plan.rules[$0].action } ?? plan.defaultAction
            let position = denying.flatMap { seccomp.rulePositions[$0] } ?? seccomp.defaultPosition
                ?? .commandLine("seccomp")
            let consequence = audit.calls.contains { $0.number == number } ? "the launch would hang" : "the launch would fail"
            let some = denying.map { plan.rules[$0].args.isEmpty ? "" : " for some arguments" } ?? ""
            diagnostics.append(Diagnostic(
                at: position,
                "'\(name)' is denied\(some) (\(action)), but lpa-run calls it in the sandbox after loading the "
                    + "filter, \(purpose): \(consequence)",
                hint: "allow '\(name)': remove it from `seccomp: deny` or its rule, or add it to `seccomp: allow`"))
        }
    }
}
