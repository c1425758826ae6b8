#if canImport(Glibc)
import Glibc
#endif
import CSupervisor
import LPAPolicy

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
}

/// What the sandbox tried and was refused, for the exit report.
public struct AuditReport: Sendable {
    public var blocked: UInt64 = 0
    /// Blocked calls per syscall name, in first-seen order of the rules.
    public var bySyscall: [(name: String, count: UInt64)] = []
    /// The first few blocked calls, one line each.
    public var examples: [String] = []
}

/// The audit concern: a socket pair over which the workload sends its seccomp
/// notification listener, the optional JSON-lines log, and the counters.
final class AuditSupervisor {
    let rules: [AuditRule]
    /// Launcher end, workload end.
    let channel: (launcher: Int32, sandbox: Int32)
    private(set) var listener: Int32 = -1
    private let logFd: Int32
    private let arena = CStringArena()
    private var counters: [UInt64]
    private var cRules: [lpa_audit_rule] = []
    private var stats = lpa_audit_stats()
    private var spec = lpa_audit_spec()

    init(rules: [AuditRule], logPath: String?) throws(LaunchError) {
        self.rules = rules
        counters = [UInt64](repeating: 0, count: rules.count)
        var pair: [Int32] = [-1, -1]
        try sys("audit: socket pair") {
            socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair)
        }
        channel = (pair[0], pair[1])
        if let logPath {
            // 0600: the log says which addresses the workload tried; it is the user's alone.
            let fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            if fd < 0 {
                let err = errno
                close(pair[0])
                close(pair[1])
                throw LaunchError(step: "audit log \(logPath)", errno: err, message: "cannot open the audit log",
                                  hint: "check that its directory exists and is writable")
            }
            logFd = fd
        } else {
            logFd = -1
        }
        cRules = rules.map {
            lpa_audit_rule(nr: $0.number, kind: $0.kind.rawValue, err: $0.errno,
                           name: UnsafePointer(arena.string($0.syscall)),
                           errname: UnsafePointer(arena.string($0.errnoName)))
        }
    }

    /// After clone the launcher no longer needs the workload's end.
    func closeSandboxEnd() {
        close(channel.sandbox)
    }

    /// The workload sent its listener just before execve, which has succeeded.
    func receiveListener() throws(LaunchError) {
        listener = lpa_audit_receive_listener(channel.launcher)
        if listener < 0 {
            throw LaunchError(step: "audit: receive the seccomp listener", errno: errno,
                              message: "the workload did not hand over its notification listener")
        }
    }

    /// Runs `body` with the C view of the supervisor (pointers valid only inside it).
    func withSpec<T>(_ body: (UnsafeMutablePointer<lpa_audit_spec>) -> T) -> T {
        counters.withUnsafeMutableBufferPointer { countersBuffer in
            cRules.withUnsafeBufferPointer { rulesBuffer in
                withUnsafeMutablePointer(to: &stats) { statsPointer in
                    statsPointer.pointee.per_rule = countersBuffer.baseAddress
                    spec = lpa_audit_spec(listener: listener, log_fd: logFd, rules: rulesBuffer.baseAddress,
                                          rule_count: rulesBuffer.count, stats: statsPointer)
                    return withUnsafeMutablePointer(to: &spec) { body($0) }
                }
            }
        }
    }

    var report: AuditReport {
        var result = AuditReport()
        result.blocked = stats.blocked
        for (rule, count) in zip(rules, counters) where count > 0 {
            if let i = result.bySyscall.firstIndex(where: { $0.name == rule.syscall }) {
                result.bySyscall[i].count += count
            } else {
                result.bySyscall.append((rule.syscall, count))
            }
        }
        withUnsafeBytes(of: stats.examples) { raw in
            let width = Int(LPA_AUDIT_EXAMPLE_LEN)
            for i in 0..<min(Int(stats.example_count), Int(LPA_AUDIT_EXAMPLES)) {
                let bytes = raw[(i * width)..<((i + 1) * width)].prefix { $0 != 0 }
                result.examples.append(String(decoding: bytes, as: UTF8.self))
            }
        }
        return result
    }

    deinit {
        close(channel.launcher)
        if listener >= 0 { close(listener) }
        if logFd >= 0 { close(logFd) }
    }
}
