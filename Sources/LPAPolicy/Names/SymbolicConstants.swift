#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Names a profile may use for syscall argument values: socket families, ioctl
/// requests, clone flags. Values come from the C library where it exports them.
enum SymbolicConstants {
    /// socket(2) domains; written `unix` or `AF_UNIX`.
    static let socketFamilies: [String: UInt64] = [
        "AF_UNSPEC": UInt64(AF_UNSPEC), "AF_UNIX": UInt64(AF_UNIX), "AF_LOCAL": UInt64(AF_LOCAL),
        "AF_INET": UInt64(AF_INET), "AF_INET6": UInt64(AF_INET6), "AF_NETLINK": UInt64(AF_NETLINK),
        "AF_PACKET": UInt64(AF_PACKET), "AF_KEY": UInt64(AF_KEY), "AF_ALG": UInt64(AF_ALG),
        "AF_VSOCK": UInt64(AF_VSOCK), "AF_BLUETOOTH": UInt64(AF_BLUETOOTH), "AF_CAN": UInt64(AF_CAN),
        "AF_TIPC": UInt64(AF_TIPC), "AF_XDP": UInt64(AF_XDP), "AF_RDS": UInt64(AF_RDS),
    ]

    /// ioctl(2) requests worth denying.
    static let ioctlRequests: [String: UInt64] = [
        // Pushes characters into the terminal's input: a sandboxed program could type commands into the caller's shell.
        "TIOCSTI": UInt64(TIOCSTI),
        // Console selection paste: the same injection on the Linux virtual console.
        "TIOCLINUX": UInt64(TIOCLINUX),
        // Line disciplines (n_gsm, n_hdlc...) are kernel attack surface no program needs.
        "TIOCSETD": UInt64(TIOCSETD),
        // Redirects the console's output to a terminal.
        "TIOCCONS": UInt64(TIOCCONS),
        // Terminal ownership: foreground group, controlling terminal. They act only on the
        // caller's own controlling terminal (or one nobody holds), which inside a sandbox is
        // its own relayed pty; shells need them for job control, so strict allows them.
        "TIOCSPGRP": UInt64(TIOCSPGRP), "TIOCSCTTY": UInt64(TIOCSCTTY),
    ]

    /// clone(2) namespace flags (linux/sched.h; glibc hides them behind _GNU_SOURCE,
    /// which Swift's Glibc module does not define). These are kernel ABI values.
    static let cloneFlags: [String: UInt64] = [
        "CLONE_NEWNS": 0x0002_0000, "CLONE_NEWCGROUP": 0x0200_0000, "CLONE_NEWUTS": 0x0400_0000,
        "CLONE_NEWIPC": 0x0800_0000, "CLONE_NEWUSER": 0x1000_0000, "CLONE_NEWPID": 0x2000_0000,
        "CLONE_NEWNET": 0x4000_0000, "CLONE_NEWTIME": 0x0000_0080,
    ]

    /// personality(2) persona values and flags (linux/personality.h, kernel ABI). A profile
    /// lists the ones the workload may set: READ_IMPLIES_EXEC makes every readable mapping
    /// executable and ADDR_NO_RANDOMIZE turns ASLR off for what the workload runs next.
    static let personalityFlags: [String: UInt64] = [
        "PER_LINUX32": 0x0008, "UNAME26": 0x0002_0000, "ADDR_NO_RANDOMIZE": 0x0004_0000,
        "FDPIC_FUNCPTRS": 0x0008_0000, "MMAP_PAGE_ZERO": 0x0010_0000, "ADDR_COMPAT_LAYOUT": 0x0020_0000,
        "READ_IMPLIES_EXEC": 0x0040_0000, "ADDR_LIMIT_32BIT": 0x0080_0000, "SHORT_INODE": 0x0100_0000,
        "WHOLE_SECONDS": 0x0200_0000, "STICKY_TIMEOUTS": 0x0400_0000, "ADDR_LIMIT_3GB": 0x0800_0000,
    ]

    /// Resolves a name in `table` (with `prefix` optional and case ignored) or a
    /// number (decimal or 0x hex).
    static func resolve(_ text: String, in table: [String: UInt64], prefix: String) -> SymbolicValue? {
        if let number = parseNumber(text) { return SymbolicValue(name: text, value: number) }
        var name = text.uppercased()
        if !name.hasPrefix(prefix) { name = prefix + name }
        return table[name].map { SymbolicValue(name: name, value: $0) }
    }

    static func parseNumber(_ text: String) -> UInt64? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text)
    }
}

/// A constant written by name (AF_UNIX, TIOCSTI) or number, resolved.
struct SymbolicValue: Sendable, Equatable {
    var name: String
    var value: UInt64
}
