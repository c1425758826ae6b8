#if canImport(Glibc)
import Glibc
#endif
import CSupervisor
import CSeccomp
import LPAPolicy

/// What the sandbox tried and was refused, for the exit report.
public struct AuditReport: Sendable {
    /// Refusals that matter: everything but what the plan expects (`expected`).
    public var blocked: UInt64 = 0
    /// Blocked calls per syscall name, what matters first (connections, files,
    /// privileges, then the rest), in rule order within each group.
    public var bySyscall: [(name: String, count: UInt64)] = []
    /// The first few blocked calls, one line each, in the same order of importance.
    public var examples: [String] = []
    /// Refusals the plan marks as handled by design (glibc's clone3 → clone): counted
    /// here and never in `blocked`.
    public var expected: UInt64 = 0
    public var expectedBySyscall: [(name: String, count: UInt64)] = []
    /// Blocked calls counted but not written to the log (rate or size limit).
    public var logSuppressed: UInt64 = 0
    /// Where it tried to connect or send (refused egress), first seen first, at most
    /// `AuditSupervisor.destinationLimit` addresses; the rest are counted in
    /// `otherDestinations`. Printable text (the sandbox chose these addresses).
    public var destinations: [(address: String, count: UInt64)] = []
    public var otherDestinations: UInt64 = 0
}

/// The audit concern: a socket pair over which the workload sends its seccomp
/// notification listener, the optional JSON-lines log, and the counters. audit.c
/// answers each notification; this class formats and writes what it hands back.
///
/// `record` runs on the audit thread (relay.c starts it); nothing else touches this
/// object until that thread has been joined, when `finishLog` and `report` run.
final class AuditSupervisor {
    /// At most this many log lines per syscall and second, and this many bytes of lines
    /// per run: a workload that floods denied calls (200 000 in a few seconds) must not
    /// fill the disk or bury its first records. What is not written is counted, and
    /// `finishLog` writes one "suppressed" line per syscall with the count.
    static let linesPerSecond = 100
    static let logBytesMax = 10 << 20
    /// Distinct destinations the report names; a sandbox scanning addresses must not
    /// grow the report (or lpa-run's memory) without bound.
    static let destinationLimit = 16

    /// The rules with their names: made when first needed (a refused call, the report),
    /// so that a launch from a record, which has the C view already, skips them otherwise.
    private(set) lazy var rules: [AuditRule] = makeRules()
    private let makeRules: () -> [AuditRule]
    /// Launcher end, workload end.
    let channel: (launcher: Int32, sandbox: Int32)
    private(set) var listener: Int32 = -1
    /// Opened by the caller (HostOutputFile: no links, no FIFOs, 0600, outside the
    /// sandbox's read-write binds).
    private let log: HostOutputFile?
    /// The rules as audit.c sees them: lpa-run's own copy, or a launch record's (which
    /// outlives the supervisor), read in place.
    private let cRules: UnsafeBufferPointer<lpa_audit_rule>
    private let ownsRules: Bool
    private var blocked: UInt64 = 0
    private var expected: UInt64 = 0
    private var counters: [UInt64]
    /// Up to `AuditEvent.exampleLimit` per category, so that a flood of minor refusals
    /// cannot push the connection attempt out of the report.
    private var examples: [AuditCategory: [String]] = [:]
    private var destinations: [(address: String, count: UInt64)] = []
    private var otherDestinations: UInt64 = 0
    // The log's limits, per rule: the second of the current window, lines written in it,
    // and calls not written.
    private var windowSecond: [Int64]
    private var linesInWindow: [Int]
    private var suppressed: [UInt64]
    private var logBytes = 0

    /// Record mode (`lpa-run learn`): one bit per native syscall number the filter let
    /// through, written by audit.c on the audit thread, read after it was joined.
    static let seenWords = 16
    private let seen: UnsafeMutablePointer<UInt64>?
    private var unrecorded: UInt64 = 0

    convenience init(rules: [AuditRule], log: HostOutputFile?, record: Bool = false) throws(LaunchError) {
        let copy = UnsafeMutableBufferPointer<lpa_audit_rule>.allocate(capacity: rules.count)
        _ = copy.initialize(from: rules.map(\.cRule))
        try self.init(cRules: UnsafeBufferPointer(copy), owned: true, makeRules: { rules }, log: log, record: record)
    }

    /// `cRules` as audit.c sees them (`owned`: deallocated with the supervisor); `makeRules`
    /// gives the same rules with their names. `channel`: make the socket pair the workload
    /// sends its listener on (a launch from a record has the executor make it).
    init(cRules: UnsafeBufferPointer<lpa_audit_rule>, owned: Bool, makeRules: @escaping () -> [AuditRule],
         log: HostOutputFile?, record: Bool = false, channel makeChannel: Bool = true) throws(LaunchError) {
        ownsRules = owned
        if record {
            seen = .allocate(capacity: Self.seenWords)
            seen?.initialize(repeating: 0, count: Self.seenWords)
        } else {
            seen = nil
        }
        self.makeRules = makeRules
        self.log = log
        counters = [UInt64](repeating: 0, count: cRules.count)
        windowSecond = [Int64](repeating: -1, count: cRules.count)
        linesInWindow = [Int](repeating: 0, count: cRules.count)
        suppressed = [UInt64](repeating: 0, count: cRules.count)
        self.cRules = cRules
        var pair: [Int32] = [-1, -1]
        if makeChannel {
            try sys("audit: socket pair") {
                socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair)
            }
        }
        channel = (pair[0], pair[1])
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
        do {
            let rulesBuffer = cRules
            var spec = lpa_audit_spec(
                listener: listener, rules: rulesBuffer.baseAddress, rule_count: rulesBuffer.count,
                sink: { record, context in
                    guard let record, let context else { return }
                    Unmanaged<AuditSupervisor>.fromOpaque(context).takeUnretainedValue().record(record.pointee)
                },
                context: Unmanaged.passUnretained(self).toOpaque(),
                seen: seen, seen_words: seen == nil ? 0 : Self.seenWords, arch: seccomp_arch_native(),
                unrecorded: 0)
            defer { unrecorded += spec.unrecorded }
            return withUnsafeMutablePointer(to: &spec) { body($0) }
        }
    }

    /// Counts a refused call, keeps it as an example while there is room, and appends
    /// its JSON line to the log (one write, O_APPEND) within the limits.
    func record(_ raw: lpa_audit_record) {
        let index = Int(raw.rule)
        guard rules.indices.contains(index) else { return }
        let rule = rules[index]
        let isExpected = rule.expected != nil
        if isExpected { expected += 1 } else { blocked += 1 }
        counters[index] += 1
        let wantsExample = !isExpected && examples[rule.category, default: []].count < AuditEvent.exampleLimit
        var logs = false
        if log != nil {
            if windowSecond[index] != raw.time_sec {
                windowSecond[index] = raw.time_sec
                linesInWindow[index] = 0
            }
            logs = linesInWindow[index] < Self.linesPerSecond
            if !logs { suppressed[index] += 1 }
        }
        // A refused connection is what the report leads with: its address, always.
        let isEgress = rule.kind == .egress && !isExpected
        guard wantsExample || logs || isEgress else { return }
        let event = Self.event(raw, rule: rule)
        if wantsExample { examples[rule.category, default: []].append(event.example) }
        if isEgress { countDestination(AuditText.truncated(AuditText.printable(event.detail), toBytes: 80)) }
        guard logs, let log else { return }
        let line = Array(event.jsonLine.utf8)
        guard logBytes + line.count <= Self.logBytesMax else {
            suppressed[index] += 1
            return
        }
        linesInWindow[index] += 1
        logBytes += line.count
        _ = log.write(line)
    }

    /// Refusals a launch from a record counted without their details: expected ones
    /// before it had a reporter, and any that found its spool full (only their number
    /// is reported; an egress refusal counted so names no address).
    func count(rule index: Int, times: UInt64) {
        guard rules.indices.contains(index) else { return }
        if rules[index].expected != nil { expected += times } else { blocked += times }
        counters[index] += times
    }

    private func countDestination(_ address: String) {
        if let i = destinations.firstIndex(where: { $0.address == address }) {
            destinations[i].count += 1
        } else if destinations.count < Self.destinationLimit {
            destinations.append((address, 1))
        } else {
            otherDestinations += 1
        }
    }

    /// After the audit thread ended: one line per syscall whose calls were not all
    /// written, with how many were left out.
    func finishLog() {
        guard let log else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let time = AuditEvent.isoTime(seconds: Int64(now.tv_sec), nanoseconds: Int64(now.tv_nsec))
        for (name, count) in Self.bySyscall(rules, suppressed) {
            let line = "{\"time\":\(AuditText.json(time)),\"action\":\"suppressed\",\"syscall\":\(AuditText.json(name)),"
                + "\"count\":\(count)}\n"
            _ = log.write(Array(line.utf8))
        }
    }

    /// Counts per syscall name (several rules may share one), in rule order.
    private static func bySyscall(_ rules: [AuditRule], _ counts: [UInt64]) -> [(name: String, count: UInt64)] {
        var result: [(name: String, count: UInt64)] = []
        for (rule, count) in zip(rules, counts) where count > 0 {
            if let i = result.firstIndex(where: { $0.name == rule.syscall }) {
                result[i].count += count
            } else {
                result.append((rule.syscall, count))
            }
        }
        return result
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
                          detail: rule.detail.describe(arguments: arguments, data: data),
                          expected: rule.expected != nil)
    }

    var report: AuditReport {
        var result = AuditReport()
        // Nothing refused (most runs): nothing to rank or name.
        guard blocked > 0 || expected > 0 || suppressed.contains(where: { $0 > 0 }) else { return result }
        result.blocked = blocked
        result.expected = expected
        // Stable: rule order within each category.
        // Each rule's category worked out once (it matches on the syscall's name), not
        // once per comparison: this runs at the end of every audited run.
        let categories = rules.map(\.category)
        let ranked = rules.indices.sorted { (categories[$0], $0) < (categories[$1], $1) }
        let blockedRules = ranked.filter { rules[$0].expected == nil }
        result.bySyscall = Self.bySyscall(blockedRules.map { rules[$0] }, blockedRules.map { counters[$0] })
        let expectedRules = rules.indices.filter { rules[$0].expected != nil }
        result.expectedBySyscall = Self.bySyscall(expectedRules.map { rules[$0] }, expectedRules.map { counters[$0] })
        result.examples = Array(examples.sorted { $0.key < $1.key }.flatMap(\.value).prefix(AuditEvent.exampleLimit))
        result.logSuppressed = suppressed.reduce(0, +)
        result.destinations = destinations
        result.otherDestinations = otherDestinations
        return result
    }

    /// Record mode: the native numbers of the calls the filter let through, ascending,
    /// and how many notifications could not be recorded (another ABI, a number past
    /// the bitmap: none expected, since other ABIs are killed).
    var recorded: (numbers: [Int32], unrecorded: UInt64) {
        guard let seen else { return ([], 0) }
        var numbers: [Int32] = []
        for word in 0..<Self.seenWords {
            for bit in 0..<64 where seen[word] & (1 << UInt64(bit)) != 0 { numbers.append(Int32(word * 64 + bit)) }
        }
        return (numbers, unrecorded)
    }

    deinit {
        if ownsRules { cRules.deallocate() }
        seen?.deallocate()
        if channel.launcher >= 0 { close(channel.launcher) }
        if listener >= 0 { close(listener) }
    }
}
