#if canImport(Glibc)
import Glibc
#endif
import CShims
import CWindow
import LPAPolicy

/// The plan's Landlock section as the window's flat rule array: one rule per path a
/// mount entry became (device globs expand to several, a skipped optional bind to none).
/// Rights are masked to the kernel's ABI in the window (window.c `apply_landlock`).
struct LandlockRules {
    struct Rule: Equatable {
        var path: String
        var access: UInt64
        var optional: Bool
    }

    /// One LANDLOCK_RULE_NET_PORT rule: LANDLOCK_ACCESS_NET_BIND_TCP (1) and/or
    /// CONNECT_TCP (2) on `port`.
    struct Port: Equatable {
        var port: UInt16
        var access: UInt64
    }

    static let bindTCP: UInt64 = 1
    static let connectTCP: UInt64 = 2

    var mode: LandlockPlan.Mode
    var handled: UInt64
    var rules: [Rule]
    /// The TCP directions handled (the window drops them below ABI 4) and their ports.
    var handledNet: UInt64 = 0
    var ports: [Port] = []

    init(plan: LandlockPlan, steps: [MountSteps.Step]) {
        mode = plan.mode
        handled = plan.mode == .off ? 0 : LandlockAccess.mask(LandlockAccess.allCases)
        rules = []
        (handledNet, ports) = Self.ports(plan.network)
        guard plan.mode != .off else { return }
        let mounting: Set<UInt32> = [LPA_FS_BIND.rawValue, LPA_FS_TMPFS.rawValue, LPA_FS_ATTACH.rawValue,
                                     LPA_FS_PROC.rawValue, LPA_FS_DEVPTS.rawValue]
        for rule in plan.rules {
            let access = LandlockAccess.mask(rule.access)
            guard let index = rule.mount else {
                rules.append(Rule(path: rule.path, access: access, optional: rule.optional))
                continue
            }
            for step in steps where step.planIndex == index && mounting.contains(step.kind.rawValue) {
                rules.append(Rule(path: step.target, access: access, optional: step.optional || rule.optional))
            }
        }
    }

    /// Port lists become handled directions; `any` stays unhandled. Rules are not masked
    /// to the host's ABI here (the plan may have been compiled without asking the kernel):
    /// the window does it.
    static func ports(_ network: LandlockNetwork) -> (UInt64, [Port]) {
        var handled: UInt64 = 0
        var access: [UInt16: UInt64] = [:]
        if case .only(let ports) = network.bind {
            handled |= bindTCP
            for port in ports { access[port, default: 0] |= bindTCP }
        }
        if case .only(let ports) = network.connect {
            handled |= connectTCP
            for port in ports { access[port, default: 0] |= connectTCP }
        }
        return (handled, access.keys.sorted().map { Port(port: $0, access: access[$0]!) })
    }

    /// The step name of a failing rule: path rules first, then port rules.
    func describe(index: Int) -> String {
        if rules.indices.contains(index) { return "Landlock rule for \(rules[index].path)" }
        if ports.indices.contains(index - rules.count) { return "Landlock rule for TCP port \(ports[index - rules.count].port)" }
        return "Landlock ruleset"
    }

    func cPorts() -> [lpa_landlock_port] {
        ports.map { lpa_landlock_port(port: UInt64($0.port), access: $0.access) }
    }

    var cMode: Int32 {
        switch mode {
        case .off: 0
        case .bestEffort: 1
        case .required: 2
        }
    }

    func cRules(arena: CStringArena) -> [lpa_landlock_rule] {
        rules.map { lpa_landlock_rule(path: UnsafePointer(arena.string($0.path)), access: $0.access,
                                      optional: $0.optional ? 1 : 0) }
    }

    /// The Landlock fields of the window's spec, the same for both launch paths (the
    /// namespaces' and the degraded mode's); strings and arrays live in `arena`.
    func fill(_ spec: inout lpa_spec, arena: CStringArena) {
        let rules = cRules(arena: arena)
        spec.landlock_mode = cMode
        spec.landlock_handled = handled
        spec.landlock_rules = UnsafePointer(arena.array(rules))
        spec.landlock_rule_count = rules.count
        spec.landlock_handled_net = handledNet
        spec.landlock_ports = UnsafePointer(arena.array(cPorts()))
        spec.landlock_port_count = ports.count
    }
}
