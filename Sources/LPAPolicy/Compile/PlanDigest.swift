import Crypto
import FoundationEssentials

/// "sha256:HEX" over the policy only: the plan with the command, the caller's
/// ids, environment values and every origin and profile name cleared, so two
/// profiles that compile to the same sandbox have the same digest.
enum PlanDigest {
    static func digest(of plan: IsolationPlan) -> String {
        var policy = plan
        policy.command = CommandPlan(argv: [], executable: nil)
        policy.identity = Identity(runAs: plan.identity.runAs, uid: 0, gid: 0)
        policy.environment.set = plan.environment.set.map { .init(name: $0.name, value: "") }
        policy.environment.dropped = []
        policy.profile = ProfileChain(chain: [], description: "", digest: "")
        // The command's own file, bound because no bind covers it, is the command's.
        func isCommandFile(_ m: MountEntry) -> Bool {
            m.kind == .bind && m.origin == nil && !m.verified && m.source == plan.command.executable
        }
        policy.mounts = plan.mounts.filter { !isCommandFile($0) }.map { var m = $0; m.origin = nil; return m }
        // Its Landlock rule too; rules name paths, not positions in the mount list.
        policy.landlock.rules = plan.landlock.rules
            .filter { rule in !(rule.mount.map { plan.mounts.indices.contains($0) && isCommandFile(plan.mounts[$0]) } ?? false) }
            .map { var r = $0; r.mount = nil; return r }
        policy.network.publish = plan.network.publish.map { var p = $0; p.origin = nil; return p }
        policy.network.connect = plan.network.connect.map { var c = $0; c.origin = nil; return c }
        // How the report words a refusal changes no outcome: not part of the policy.
        policy.audit.calls = plan.audit.calls.map { var c = $0; c.expected = nil; return c }
        policy.network.publishSockets = plan.network.publishSockets.map { var p = $0; p.origin = nil; return p }
        policy.network.connectSockets = plan.network.connectSockets.map { var c = $0; c.origin = nil; return c }
        policy.seccomp.rules = plan.seccomp.rules.map { var r = $0; r.origin = nil; r.reason = nil; return r }
        policy.rlimits = plan.rlimits.map { var r = $0; r.origin = nil; return r }
        policy.models = plan.models.map { var m = $0; m.origin = nil; return m }
        policy.pins.executable?.origin = nil
        policy.pins.files = plan.pins.files.map { var f = $0; f.origin = nil; return f }
        policy.pins.directories = plan.pins.directories.map { directory in
            var d = directory
            d.origin = nil
            d.files = d.files.map { var f = $0; f.origin = nil; return f }
            return d
        }
        let json = PlanFormatter.json(policy)
        let hash = SHA256.hash(data: Array(json.utf8))
        let digits = Array("0123456789abcdef")
        return "sha256:" + String(hash.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] })
    }
}
