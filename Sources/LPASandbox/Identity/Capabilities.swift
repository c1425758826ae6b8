#if canImport(Glibc)
import Glibc
#endif
import CCap
import LPAPolicy

/// The capability sets the workload ends with, prepared with libcap before clone.
/// Everything not kept is dropped from the bounding, permitted, effective, inheritable
/// and ambient sets: root inside the user namespace must not keep powers over the
/// namespaces we built (mounts, network, hostname).
final class CapabilitySets {
    let caps: cap_t
    let keep: [Int32]
    let lastCap: Int32

    init(plan: CapabilityPlan) throws(LaunchError) {
        guard let caps = cap_init() else {
            throw LaunchError(step: "capabilities: prepare", errno: errno, message: "libcap cap_init failed")
        }
        self.caps = caps
        keep = plan.keep.map(\.number)
        // The kernel may know more capabilities than libcap was built with: drop them all.
        lastCap = max(Int32(cap_max_bits()) - 1, Int32(readSmallInteger("/proc/sys/kernel/cap_last_cap") ?? 0))
        if !keep.isEmpty {
            var values = keep.map { cap_value_t($0) }
            for flag in [CAP_PERMITTED, CAP_EFFECTIVE, CAP_INHERITABLE] {
                if cap_set_flag(caps, flag, Int32(values.count), &values, CAP_SET) != 0 {
                    throw LaunchError(step: "capabilities: prepare", errno: errno, message: "cap_set_flag failed")
                }
            }
        }
    }

    deinit { cap_free(UnsafeMutableRawPointer(caps)) }
}
