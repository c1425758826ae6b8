/// Named syscall groups for `seccomp.deny`/`allow` (`@mount`, ...). Each group is
/// one class of sandbox escape or host interference; the comment says which.
/// Order matters: it is the order of rules in the plan.
enum SyscallGroups {
    struct Group: Sendable {
        var name: String
        var syscalls: [String]
    }

    static let all: [Group] = [
        // Kernel-side async I/O with a long CVE record; bypasses seccomp checks of the calls it performs.
        Group(name: "io_uring", syscalls: ["io_uring_setup", "io_uring_enter", "io_uring_register"]),
        // Lets an attacker stall the kernel at chosen faults: the classic race-widening primitive.
        Group(name: "userfaultfd", syscalls: ["userfaultfd"]),
        // Loads programs into the kernel; unprivileged eBPF is a steady source of exploits.
        Group(name: "bpf", syscalls: ["bpf"]),
        // Performance counters: side channels and a large kernel attack surface.
        Group(name: "perf", syscalls: ["perf_event_open"]),
        // The kernel keyring is not namespaced: keys could leak between sandbox and host.
        Group(name: "keyring", syscalls: ["keyctl", "add_key", "request_key"]),
        // Reading or writing another process's memory, or stealing its file descriptors.
        Group(name: "debug", syscalls: ["ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp"]),
        // Rearranging mounts could uncover what the sandbox hides.
        Group(name: "mount", syscalls: ["mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree",
                                        "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr"]),
        // Loading kernel code is full host compromise.
        Group(name: "module", syscalls: ["init_module", "finit_module", "delete_module", "create_module"]),
        // Rebooting or replacing the running kernel.
        Group(name: "reboot", syscalls: ["reboot", "kexec_load", "kexec_file_load"]),
        // Host-wide swap configuration.
        Group(name: "swap", syscalls: ["swapon", "swapoff"]),
        // open_by_handle_at escaped containers (Shocker): file handles bypass the mount view.
        Group(name: "handles", syscalls: ["open_by_handle_at", "name_to_handle_at"]),
        // New namespaces re-open the kernel surface the sandbox closed (nested user namespaces).
        Group(name: "namespaces", syscalls: ["unshare", "setns"]),
        // Direct port and PCI I/O reaches hardware behind the kernel's back.
        Group(name: "raw-io", syscalls: ["iopl", "ioperm", "pciconfig_read", "pciconfig_write", "pciconfig_iobase"]),
        // The system clock is host-wide; changing it breaks TLS, logs and other programs.
        Group(name: "clock", syscalls: ["settimeofday", "clock_settime", "clock_adjtime", "adjtimex"]),
        // Obsolete calls nobody needs; old code paths are where bugs hide.
        Group(name: "obsolete", syscalls: ["uselib", "sysfs", "_sysctl", "ustat", "create_module", "get_kernel_syms",
                                           "query_module", "nfsservctl", "vserver", "afs_syscall"]),
        // Watching file access system-wide (unprivileged since Linux 5.13): a side channel on
        // what other programs open; Docker allows it only with CAP_SYS_ADMIN.
        Group(name: "fanotify", syscalls: ["fanotify_init"]),
        // Host administration: process accounting, quotas, kernel log, terminal hangup, profiling.
        Group(name: "system", syscalls: ["acct", "quotactl", "quotactl_fd", "lookup_dcookie", "syslog", "vhangup"]),
    ]

    static func group(named name: String) -> Group? { all.first { $0.name == name } }

    /// The order of a group in the plan.
    static func rank(of name: String) -> Int? { all.firstIndex { $0.name == name } }
}
