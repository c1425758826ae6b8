#if canImport(Glibc)
import Glibc
#endif
import CSupervisor

/// One call the seccomp filter hands to the supervisor (audit.c) instead of failing
/// it in the kernel: the supervisor logs it and answers with the same outcome.
struct AuditRule: Equatable {
    enum Kind: Int32 {
        /// A call the plan denies: answered with `errno`.
        case deny = 1
        /// connect/sendto with an address: loopback continues, anything else ENETUNREACH,
        /// which is what the sandbox's empty network namespace answers anyway.
        case egress = 2
    }
    var number: Int32
    var kind: Kind
    var errno: Int32
    var syscall: String
    var errnoName: String
    /// The plan's reason when this refusal is handled by design (`AuditPlan.Call.expected`):
    /// counted apart, logged as "expected", never "blocked".
    var expected: String? = nil

    /// What the exit report leads with: connections first, then files, then privileges.
    var category: AuditCategory { AuditCategory(syscall: syscall) }

    /// What the supervisor reads of this call and how its log entry describes it.
    var detail: AuditDetail { AuditDetail(syscall: syscall) }

    /// The rule as audit.c sees it: numbers and argument roles, no names.
    var cRule: lpa_audit_rule {
        var rule = lpa_audit_rule()
        rule.nr = number
        rule.kind = kind.rawValue
        rule.err = errno
        let roles = detail.roles.map(\.cValue)
        withUnsafeMutableBytes(of: &rule.roles) { raw in
            for (i, role) in roles.enumerated() where i < raw.count { raw[i] = role }
        }
        return rule
    }
}

/// How the exit report groups refusals, most telling first: where it tried to connect,
/// which files, which privileges; then everything else.
enum AuditCategory: Int, Comparable, Sendable {
    case network = 0, files, privilege, other

    init(syscall: String) {
        switch syscall {
        case "connect", "sendto", "sendmsg", "sendmmsg", "socket", "socketpair", "bind", "listen":
            self = .network
        case "open", "openat", "openat2", "creat", "mount", "umount2", "pivot_root", "swapon", "swapoff",
             "chroot", "mknod", "mknodat", "open_by_handle_at", "name_to_handle_at", "fsopen", "fsmount",
             "move_mount", "open_tree", "fspick", "fsconfig", "mount_setattr", "quotactl", "acct":
            self = .files
        case "ptrace", "unshare", "clone", "setns", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
             "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
             "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "userfaultfd", "iopl", "ioperm",
             "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "capset", "personality",
             "ioctl", "seccomp", "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "sethostname",
             "setdomainname", "syslog", "vhangup", "lookup_dcookie", "nfsservctl":
            self = .privilege
        default:
            self = .other
        }
    }

    static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    var label: String {
        switch self {
        case .network: "network"
        case .files: "files"
        case .privilege: "privilege"
        case .other: "other"
        }
    }
}

/// What an argument of an audited call is, as far as the supervisor must read it.
enum AuditArgumentRole: Equatable, Sendable {
    /// The number only.
    case value
    /// A NUL-terminated string in the caller's memory (a path, a mount target).
    case string
    /// A `struct sockaddr` in the caller's memory; its length is the `.length` argument.
    case address
    /// The byte length of the `.address` argument.
    case length

    var cValue: UInt8 {
        switch self {
        case .value: UInt8(LPA_AUDIT_ARG_VALUE.rawValue)
        case .string: UInt8(LPA_AUDIT_ARG_STRING.rawValue)
        case .address: UInt8(LPA_AUDIT_ARG_ADDRESS.rawValue)
        case .length: UInt8(LPA_AUDIT_ARG_LENGTH.rawValue)
        }
    }
}

/// The syscall-specific knowledge of the audit: which argument holds what, and the
/// metadata-only `detail` of a log entry (never buffers, so never prompts or outputs).
enum AuditDetail: Equatable, Sendable {
    case none
    /// "family inet": socket(2), socketpair(2).
    case family(argument: Int)
    /// "request 16 pid 1": ptrace(request, pid, ...).
    case ptrace
    /// "path /etc/shadow", "target /mnt": a string the caller passed.
    case string(label: String, argument: Int)
    /// "request 0x5401", "flags 0x10000000".
    case hex(label: String, argument: Int)
    /// "203.0.113.7:443", "[::1]:80", "unix:/run/x": a socket address and its length.
    case address(argument: Int, length: Int)

    static let argumentCount = Int(LPA_AUDIT_ARGS)

    init(syscall: String) {
        switch syscall {
        case "socket", "socketpair": self = .family(argument: 0)
        case "ptrace": self = .ptrace
        case "mount": self = .string(label: "target", argument: 1)
        case "open", "creat", "swapon", "umount2", "pivot_root": self = .string(label: "path", argument: 0)
        case "openat", "openat2": self = .string(label: "path", argument: 1)
        case "ioctl": self = .hex(label: "request", argument: 1)
        case "clone", "unshare": self = .hex(label: "flags", argument: 0)
        case "connect": self = .address(argument: 1, length: 2)
        case "sendto": self = .address(argument: 4, length: 5)
        default: self = .none
        }
    }

    /// One role per argument: what audit.c reads from the caller's memory.
    var roles: [AuditArgumentRole] {
        var roles = [AuditArgumentRole](repeating: .value, count: Self.argumentCount)
        switch self {
        case .string(_, let argument): roles[argument] = .string
        case .address(let argument, let length):
            roles[argument] = .address
            roles[length] = .length
        case .none, .family, .ptrace, .hex: break
        }
        return roles
    }

    /// The argument that holds a socket address, if any.
    var addressArgument: Int? {
        if case .address(let argument, _) = self { return argument }
        return nil
    }

    /// The detail text from the call's arguments and the bytes audit.c read for the
    /// `.string` and `.address` arguments (nil: unreadable). Hostile text stays as it
    /// is here; the log and the report escape it.
    func describe(arguments: [UInt64], data: [[UInt8]?]) -> String {
        func argument(_ i: Int) -> UInt64 { i < arguments.count ? arguments[i] : 0 }
        func bytes(_ i: Int) -> [UInt8]? { i < data.count ? data[i] : nil }
        switch self {
        case .none:
            return ""
        case .family(let i):
            return "family " + (Self.familyName(argument(i)) ?? String(argument(i)))
        case .ptrace:
            return "request \(argument(0)) pid \(Int32(truncatingIfNeeded: argument(1)))"
        case .string(let label, let i):
            return label + " " + AuditText.decode(bytes(i) ?? [])
        case .hex(let label, let i):
            return label + " 0x" + String(argument(i), radix: 16)
        case .address(let i, _):
            return Self.describeAddress(bytes(i) ?? [])
        }
    }

    static func familyName(_ family: UInt64) -> String? {
        guard family <= UInt64(Int32.max) else { return nil }
        return switch Int32(family) {
        case AF_UNIX: "unix"
        case AF_INET: "inet"
        case AF_INET6: "inet6"
        case AF_NETLINK: "netlink"
        case AF_PACKET: "packet"
        case AF_VSOCK: "vsock"
        case AF_ALG: "alg"
        case AF_BLUETOOTH: "bluetooth"
        default: nil
        }
    }

    /// "203.0.113.7:443", "[2001:db8::1]:443", "unix:/path", "unix:@name" (abstract;
    /// "@abstract" when the name is empty), "family N"; "unreadable address" when not
    /// even the family could be read. `read` holds only the bytes the caller passed.
    static func describeAddress(_ read: [UInt8]) -> String {
        guard read.count >= MemoryLayout<sa_family_t>.size else { return "unreadable address" }
        // What the kernel would see: the bytes read, zero-padded to a sockaddr_storage.
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            for (i, byte) in read.prefix(raw.count).enumerated() { raw[i] = byte }
        }
        func ntop(_ family: Int32, _ address: UnsafeRawPointer) -> String {
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(family, address, &text, socklen_t(text.count)) != nil else { return "" }
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        switch Int32(storage.ss_family) {
        case AF_INET:
            var a = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in.self) }
            return ntop(AF_INET, &a.sin_addr) + ":\(UInt16(bigEndian: a.sin_port))"
        case AF_INET6:
            var a = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self) }
            return "[" + ntop(AF_INET6, &a.sin6_addr) + "]:\(UInt16(bigEndian: a.sin6_port))"
        case AF_UNIX:
            // Only the bytes the caller gave (its address length, read by audit.c), at most
            // sun_path's size: an unterminated path ends there, never in what follows it.
            let offset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
            let size = MemoryLayout.size(ofValue: sockaddr_un().sun_path)
            let given = Array(read.dropFirst(offset).prefix(size))
            guard let first = given.first else { return "unix:(unnamed)" }
            if first != 0 { return "unix:" + String(decoding: given.prefix { $0 != 0 }, as: UTF8.self) }
            // Abstract: the name is every given byte after the NUL (it may hold NULs itself).
            var name = given.dropFirst()
            while name.last == 0 { name = name.dropLast() }
            return "unix:@" + (name.isEmpty ? "abstract" : String(decoding: name, as: UTF8.self))
        default:
            return "family \(storage.ss_family)"
        }
    }
}
