import CShims
import LPAPolicy

extension Namespace {
    /// The clone(2) flag that creates this namespace (CLONE_NEW* from <linux/sched.h>).
    var cloneFlag: UInt {
        switch self {
        case .user: UInt(CLONE_NEWUSER)
        case .mount: UInt(CLONE_NEWNS)
        case .pid: UInt(CLONE_NEWPID)
        case .net: UInt(CLONE_NEWNET)
        case .ipc: UInt(CLONE_NEWIPC)
        case .uts: UInt(CLONE_NEWUTS)
        case .cgroup: UInt(CLONE_NEWCGROUP)
        }
    }

    /// The flags for clone(2) that create every namespace in `namespaces`.
    static func cloneFlags(_ namespaces: [Namespace]) -> UInt {
        namespaces.reduce(UInt(0)) { $0 | $1.cloneFlag }
    }
}
