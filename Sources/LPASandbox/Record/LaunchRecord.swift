#if canImport(Glibc)
import Glibc
#endif
import CLaunch
import CSupervisor
import LPAPolicy

/// The launch record, seen from Swift: a run that may be repeated from a record asks
/// for one (`Request`); SandboxProcess encodes its finished spec with CLaunch's
/// `lpa_record_encode` (the format lives only in record.c), and the launcher writes it
/// to the cache directory once the workload has started. The other end is the front
/// (`Sources/lpa-run/main.c`), which launches from records in C; when such a launch has
/// something to report it starts this program as its reporter (`fromFront`).
///
/// Which runs are recorded: the namespace sandbox (with its audit and DNS sink) without
/// pins, `learn`, a terminal, published ports or host endpoints, with no warning from the
/// compile, no --verbose, --audit-log or --report-json, and a manifest that could be
/// taken in full (`HostReads.recordable`). Everything else takes the Swift path every time; so does
/// anything a record's checks do not confirm.
public enum LaunchRecord {
    public struct Request: Sendable {
        public var reads: HostReads
        public var quiet: Bool

        public init(reads: HostReads, quiet: Bool) {
            self.reads = reads
            self.quiet = quiet
        }
    }

    /// The record of a finished spec, or nil when it cannot be kept (see CLaunch).
    static func encode(spec: lpa_spec, hostSteps: [lpa_host_step], auditRules: [AuditRule], request: Request,
                       plan: IsolationPlan, arena: CStringArena) -> [UInt8]? {
        let reads = request.reads
        if let why = reads.whyNot {
            trace("not written: " + why)
            return nil
        }
        guard hostSteps.count == spec.fs_op_count else { return nil }
        let entries = reads.manifest
        let manifest = entries.map { entry in
            lpa_manifest_entry(path: UnsafePointer(arena.string(entry.path)), how: entry.how, print: entry.print)
        }
        let bases: [UnsafePointer<CChar>?] = reads.socketBases.map { UnsafePointer(arena.string($0)) }
        let audit = auditRules.map { rule in
            lpa_record_audit_rule(rule: rule.cRule, syscall: UnsafePointer(arena.string(rule.syscall)),
                                  errno_name: UnsafePointer(arena.string(rule.errnoName)),
                                  expected: rule.expected.map { UnsafePointer(arena.string($0)) })
        }
        var extra = lpa_record_extra()
        extra.audit_rules = UnsafePointer(arena.array(audit))
        extra.audit_rule_count = audit.count
        extra.host_steps = UnsafePointer(arena.array(hostSteps))
        extra.manifest = UnsafePointer(arena.array(manifest))
        extra.manifest_count = manifest.count
        extra.socket_bases = UnsafePointer(arena.array(bases))
        extra.socket_base_count = bases.count
        extra.requires_no_swap = reads.requiresNoSwap ? 1 : 0
        extra.quiet = request.quiet ? 1 : 0
        extra.inside_uid = plan.identity.sandboxUid
        extra.outside_uid = plan.identity.uid
        extra.inside_gid = plan.identity.sandboxGid
        extra.outside_gid = plan.identity.gid
        var spec = spec
        var bytes = lpa_bytes()
        guard lpa_record_encode(&spec, &extra, &bytes) == 0, let data = bytes.data else {
            trace(errno == ENOMEM ? "not written: larger than a record may be"
                : "not written: the spec holds what a record does not carry")
            return nil
        }
        defer { lpa_bytes_free(&bytes) }
        return Array(UnsafeBufferPointer(start: data, count: bytes.length))
    }

    /// Keeps `bytes` as this process's record (owner-only, in the caller's own cache
    /// directory, replaced atomically). Failing to is not an error: the next run compiles.
    static func write(_ bytes: [UInt8]) {
        guard let path = CacheDirectory.startCaches, let name = lpa_record_name().map({ String(cString: $0) }),
              let directory = CacheDirectory.open(path, create: true) else { return }
        defer { directory.close() }
        trace(directory.write(name, bytes, sync: false) ? "written" : "not written: the cache directory refused it")
        // Each command line has a record of its own: the oldest go beyond `kept`, and the
        // temporary file of a run killed while writing goes after a minute.
        let records = directory.files(withPrefix: "launch-")
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        // The one just written counts as the newest whatever its timestamp says.
        let others = records.filter { $0.name.hasSuffix(".v1") && $0.name != name }
        for old in others.dropLast(kept - 1) { directory.remove(old.name) }
        for stale in records where stale.name.contains(".tmp.") && stale.modified < now.tv_sec - 60 {
            directory.remove(stale.name)
        }
    }

    /// Launch records kept per cache directory (a record is a few tens of KB).
    static let kept = 64

    /// LPA_LAUNCH_RECORD_TRACE=1 (record.c has the other half). The reason may quote a
    /// path: shown through TerminalText.
    static func trace(_ what: String) {
        guard let on = getenv("LPA_LAUNCH_RECORD_TRACE"), String(cString: on) == "1" else { return }
        writeStandardError("lpa-run: launch record: " + TerminalText.printable(what) + "\n")
    }

    /// What a launch from a record came to.
    public enum FastOutcome {
        /// The workload ran: its status, the tmpfs bytes discarded, the DNS questions;
        /// `quiet`: the record was made for a -q run.
        case ran(LaunchResult, quiet: Bool)
        /// A stopping signal arrived during setup: nothing ran.
        case interrupted(signal: Int32)
        /// The relay loop could not start; the sandbox was killed.
        case failed(LaunchError)
    }

    /// Whether this process was started as the front starts its reporter: fd 0 a unix
    /// stream socket whose other end is this process's parent, which runs the front
    /// (which never passes the reporter's word on).
    public static func startedByFront() -> Bool { lpa_report_from_parent(0) == 1 && lpa_is_front(getppid()) == 1 }

    /// The reporter of a launch from a record (the front, `lpa-run`, started this
    /// process with LPA_REPORTER_ARGUMENT and streams to `fd`; report.c): the
    /// outcome as the compiled path would have it, and when the front started
    /// (CLOCK_MONOTONIC seconds). nil: the stream ended without an outcome (the front was
    /// killed) or was malformed; nothing is to be reported.
    public static func fromFront(fd: Int32) -> (outcome: FastOutcome, started: Double)? {
        // What the front saw, fed to the same reporters a compiled run uses: the audit
        // supervisor (over the record's rules, as the front sent them) and the DNS
        // recorder, made on the first event that needs them.
        final class Reporters {
            var rules: UnsafeBufferPointer<lpa_record_audit_rule>?
            var cRules: UnsafeBufferPointer<lpa_audit_rule>?
            var audit: AuditSupervisor?
            var dns: DNSRecorder?

            func supervisor() -> AuditSupervisor? {
                if let audit { return audit }
                guard let rules, let cRules else { return nil }
                audit = try? AuditSupervisor(
                    cRules: cRules, owned: false,
                    makeRules: {
                        rules.map { entry in
                            AuditRule(number: entry.rule.nr, kind: AuditRule.Kind(rawValue: entry.rule.kind) ?? .deny,
                                      errno: entry.rule.err, syscall: String(cString: entry.syscall),
                                      errnoName: String(cString: entry.errno_name),
                                      expected: entry.expected.map { String(cString: $0) })
                        }
                    },
                    log: nil, channel: false)
                return audit
            }

            func recorder() -> DNSRecorder {
                if let dns { return dns }
                let made = DNSRecorder(log: nil)
                dns = made
                return made
            }
        }
        let reporters = Reporters()
        var reader = lpa_report_reader()
        reader.context = Unmanaged.passUnretained(reporters).toOpaque()
        reader.rules = { rules, cRules, count, context in
            guard let context else { return }
            let reporters = Unmanaged<Reporters>.fromOpaque(context).takeUnretainedValue()
            reporters.rules = UnsafeBufferPointer(start: rules, count: count)
            reporters.cRules = UnsafeBufferPointer(start: cRules, count: count)
        }
        reader.expected = { rule, count, context in
            guard let context else { return }
            let reporters = Unmanaged<Reporters>.fromOpaque(context).takeUnretainedValue()
            reporters.supervisor()?.count(rule: Int(rule), times: count)
        }
        reader.audit = { raw, context in
            guard let raw, let context else { return }
            Unmanaged<Reporters>.fromOpaque(context).takeUnretainedValue().supervisor()?.record(raw.pointee)
        }
        reader.dns = { name, length, type, tcp, context in
            guard let name, let context else { return }
            Unmanaged<Reporters>.fromOpaque(context).takeUnretainedValue().recorder()
                .record(wire: UnsafeBufferPointer(start: name, count: length), type: type, tcp: tcp != 0)
        }
        var end = lpa_report_end()
        defer { lpa_report_reader_free(&reader) }
        guard lpa_report_read(fd, &reader, &end) == 1 else { return nil }
        let started = Double(end.started_ns) / 1e9
        switch end.result {
        case Int32(LPA_RECORD_RAN.rawValue):
            var ran = LaunchResult(exitStatus: end.status)
            ran.tmpfsBytesDiscarded = end.has_tmpfs_bytes != 0 ? end.tmpfs_bytes : nil
            // A launch whose plan had the sink reports it, questions or not, as a compiled one.
            if end.dns_sink != 0 {
                let dns = reporters.recorder()
                dns.countUnnamed(end.dns_unsent)
                dns.stats = end.dns
                ran.dns = dns.report
            }
            if let audit = reporters.audit { ran.audit = audit.report }
            return (.ran(ran, quiet: end.quiet != 0), started)
        case Int32(LPA_RECORD_INTERRUPTED.rawValue):
            return (.interrupted(signal: end.signal), started)
        default:
            let step = reader.step.map { String(cString: $0) } ?? "relay"
            return (.failed(LaunchError(step: step, errno: end.err,
                                        message: step == "relay" ? "the relay for published ports could not start"
                                            : "the workload did not hand over its notification listener")), started)
        }
    }
}
