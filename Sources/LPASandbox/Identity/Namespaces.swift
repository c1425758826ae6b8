import CLaunch
import LPAPolicy

extension Namespace {
    /// The clone(2) flag that creates this namespace.
    var cloneFlag: UInt { lpa_clone_flag(rawValue) }

    /// The flags for clone(2) that create every namespace in `namespaces`.
    static func cloneFlags(_ namespaces: [Namespace]) -> UInt {
        namespaces.reduce(UInt(0)) { $0 | $1.cloneFlag }
    }
}
