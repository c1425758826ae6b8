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

    var mode: LandlockPlan.Mode
    var handled: UInt64
    var rules: [Rule]

    init(plan: LandlockPlan, steps: [MountSteps.Step]) {
        mode = plan.mode
        handled = plan.mode == .off ? 0 : LandlockAccess.mask(LandlockAccess.allCases)
        rules = []
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
}
