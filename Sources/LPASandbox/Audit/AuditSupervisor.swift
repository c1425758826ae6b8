#if canImport(Glibc)
import Glibc
#endif
import CSupervisor
import LPAPolicy

/// What the sandbox tried and was refused, for the exit report.
public struct AuditReport: Sendable {
    public var blocked: UInt64 = 0
    /// Blocked calls per syscall name, in first-seen order of the rules.
    public var bySyscall: [(name: String, count: UInt64)] = []
    /// The first few blocked calls, one line each.
    public var examples: [String] = []
}

/// The audit concern: a socket pair over which the workload sends its seccomp
/// notification listener, the optional JSON-lines log, and the counters. audit.c
/// answers each notification; this class formats and writes what it hands back.
final class AuditSupervisor {
    let rules: [AuditRule]
    /// Launcher end, workload end.
    let channel: (launcher: Int32, sandbox: Int32)
    private(set) var listener: Int32 = -1
    private let logFd: Int32
    private let cRules: [lpa_audit_rule]
    private var blocked: UInt64 = 0
    private var counters: [UInt64]
    private var examples: [String] = []

    init(rules: [AuditRule], logPath: String?) throws(LaunchError) {
        self.rules = rules
        counters = [UInt64](repeating: 0, count: rules.count)
        cRules = rules.map(\.cRule)
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
    /// audit.c calls back into `record` for every refused call, after answering it.
    func withSpec<T>(_ body: (UnsafeMutablePointer<lpa_audit_spec>) -> T) -> T {
        cRules.withUnsafeBufferPointer { rulesBuffer in
            var spec = lpa_audit_spec(
                listener: listener, rules: rulesBuffer.baseAddress, rule_count: rulesBuffer.count,
                sink: { record, context in
                    guard let record, let context else { return }
                    Unmanaged<AuditSupervisor>.fromOpaque(context).takeUnretainedValue().record(record.pointee)
                },
                context: Unmanaged.passUnretained(self).toOpaque())
            return withUnsafeMutablePointer(to: &spec) { body($0) }
        }
    }

    /// Counts a refused call, keeps it as an example while there is room, and appends
    /// its JSON line to the log (one write, O_APPEND).
    private func record(_ raw: lpa_audit_record) {
        let index = Int(raw.rule)
        guard rules.indices.contains(index) else { return }
        let event = Self.event(raw, rule: rules[index])
        blocked += 1
        counters[index] += 1
        if examples.count < AuditEvent.exampleLimit { examples.append(event.example) }
        guard logFd >= 0 else { return }
        var line = Array(event.jsonLine.utf8)
        _ = line.withUnsafeMutableBytes { write(logFd, $0.baseAddress, $0.count) }
    }

    /// The event that a raw record from audit.c stands for.
    static func event(_ raw: lpa_audit_record, rule: AuditRule) -> AuditEvent {
        let arguments = [raw.args.0, raw.args.1, raw.args.2, raw.args.3, raw.args.4, raw.args.5]
        let pointers = [raw.data.0, raw.data.1, raw.data.2, raw.data.3, raw.data.4, raw.data.5]
        let lengths = [raw.data_length.0, raw.data_length.1, raw.data_length.2,
                       raw.data_length.3, raw.data_length.4, raw.data_length.5]
        let data: [[UInt8]?] = zip(pointers, lengths).map { pointer, length in
            guard let pointer, length >= 0 else { return nil }
            return Array(UnsafeBufferPointer(start: pointer, count: Int(length)))
        }
        let exe = raw.exe.map { Array(UnsafeBufferPointer(start: $0, count: Int(raw.exe_length))) } ?? []
        return AuditEvent(seconds: raw.time_sec, nanoseconds: raw.time_nsec, syscall: rule.syscall,
                          errnoName: rule.errnoName, pid: raw.pid, hostPid: raw.host_pid,
                          executable: AuditText.decode(exe),
                          detail: rule.detail.describe(arguments: arguments, data: data))
    }

    var report: AuditReport {
        var result = AuditReport()
        result.blocked = blocked
        for (rule, count) in zip(rules, counters) where count > 0 {
            if let i = result.bySyscall.firstIndex(where: { $0.name == rule.syscall }) {
                result.bySyscall[i].count += count
            } else {
                result.bySyscall.append((rule.syscall, count))
            }
        }
        result.examples = examples
        return result
    }

    deinit {
        close(channel.launcher)
        if listener >= 0 { close(listener) }
        if logFd >= 0 { close(logFd) }
    }
}
