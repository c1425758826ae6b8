#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy
import CSupervisor

/// How a run is reported, not what it isolates (that is all in the plan).
public struct LaunchOptions: Sendable {
    /// No progress bar while hashing pinned files (-q).
    public var quiet = false
    /// Say how each pinned file was checked (-v).
    public var verbose = false
    /// JSON lines, one per blocked action (see docs/plan.md "Audit log"), opened with
    /// `HostOutputFile.open(_:option:mode:plan:cwd:)`.
    public var auditLog: HostOutputFile?

    /// Record mode (`lpa-run learn`): every syscall the filter allows is noted
    /// (`LaunchResult.recordedSyscalls`); see SeccompFilter's `record`.
    public var record = false

    /// Keep this launch as a launch record, if nothing in it stands in the way (see
    /// LaunchRecord): nil for --dry-run, subcommands, and runs the command line rules out.
    public var launchRecord: LaunchRecord.Request?

    public init(quiet: Bool = false, verbose: Bool = false, auditLog: HostOutputFile? = nil, record: Bool = false,
                launchRecord: LaunchRecord.Request? = nil) {
        self.record = record
        self.launchRecord = launchRecord
        self.quiet = quiet
        self.verbose = verbose
        self.auditLog = auditLog
    }
}

/// What a finished run did, for the exit report.
public struct LaunchResult: Sendable {
    /// lpa-run's exit status: the workload's own, 128+N when it died from signal N.
    public var exitStatus: Int32
    public var relay = RelayStats()
    /// What was blocked.
    public var audit = AuditReport()
    /// The names it tried to resolve (the DNS sink), nil without a sink.
    public var dns: DNSReport?
    /// What the workload left in the sandbox's tmpfs mounts, discarded at exit (nil if unknown).
    public var tmpfsBytesDiscarded: UInt64?
    /// Record mode: the native numbers of the syscalls the workload made and the filter
    /// allowed (plus SeccompFilter.unrecordedCalls, always), ascending.
    public var recordedSyscalls: [Int32] = []
    /// Record mode: notifications that could not be recorded (expected 0).
    public var unrecordedCalls: UInt64 = 0
}

/// Runs a compiled plan, like nsjail's contain.cc: every concern is prepared on the host
/// side in its own type, then the init is cloned with one flat spec (post-clone window
/// in C), started, and supervised until it exits. The launcher takes only a plan; it
/// never reads profiles. Throws before anything runs when the plan cannot be applied
/// in full.
public struct Launcher {
    public let plan: IsolationPlan
    public var options: LaunchOptions

    public init(plan: IsolationPlan, options: LaunchOptions = LaunchOptions()) {
        self.plan = plan
        self.options = options
    }

    public func run() throws(LaunchError) -> LaunchResult {
        // The degraded mode (--isolation landlock) is a path of its own: nothing below runs.
        if plan.isolation == .landlock {
            if options.record {
                throw LaunchError(step: "record mode", message: "lpa-run learn needs the namespace sandbox",
                                  hint: "leave out --isolation landlock")
            }
            guard let degraded = plan.degraded else {
                throw LaunchError(step: "isolation landlock", message: "the plan lacks its degraded section")
            }
            return try DegradedLauncher(plan: plan, degraded: degraded, options: options).run()
        }
        let executable = try Self.preflight(plan)

        // Supply-chain pins, before anything is created: a mismatch stops here. The mount
        // steps then bind each pinned path from the descriptor that was hashed.
        let verified = try PinVerifier(plan: plan, quiet: options.quiet, verbose: options.verbose).verify()
        defer { verified.close() }

        // Each concern, prepared on the host side: everything that allocates happens here.
        let mounts = try MountSteps(plan: plan, verified: verified)
        defer { mounts.mountFds.forEach { close($0) } }
        let network = try NetworkSetup(plan: plan)
        let filter = try SeccompFilter(plan: plan.seccomp, audit: plan.audit, record: options.record, cache: .shared)
        let audit = filter.auditRules.isEmpty && !options.record ? nil
            : try AuditSupervisor(rules: filter.auditRules, log: options.auditLog, record: options.record)
        let caps = try CapabilitySets(plan: plan.capabilities)

        // The caller's terminal never reaches the sandbox; a pty of its own is relayed.
        let terminal = CallerTerminal.detect()

        // A launch record holds only what a launch from it redoes by itself (LaunchRecord).
        let pins = plan.pins
        let recordable = !options.record && terminal == nil && !plan.network.hasRelays && !options.verbose
            && options.auditLog == nil && pins.executable == nil && pins.files.isEmpty && pins.directories.isEmpty
        if options.launchRecord != nil && !recordable {
            let reasons: [String?] = [options.record ? "learn" : nil, terminal != nil ? "a terminal" : nil,
                                      plan.network.hasRelays ? "ports or endpoints" : nil, options.verbose ? "-v" : nil,
                                      options.auditLog != nil ? "--audit-log" : nil,
                                      pins.executable != nil || !pins.files.isEmpty || !pins.directories.isEmpty ? "pins" : nil]
            LaunchRecord.trace("not written: the run has " + reasons.compactMap { $0 }.joined(separator: ", "))
        }

        // clone; the init waits for its id maps, then builds the sandbox and execs.
        let sandbox = try SandboxProcess.spawn(.init(plan: plan, executable: executable, mounts: mounts,
                                                     network: network, filter: filter, audit: audit, caps: caps,
                                                     terminal: terminal,
                                                     record: recordable ? options.launchRecord : nil))
        try sandbox.start(identity: plan.identity)
        switch sandbox.awaitSetup() {
        case .started: break
        case .failed(let failure):
            _ = sandbox.wait()
            throw failure.explain(plan: plan, mounts: mounts)
        case .interrupted(let signal):
            _ = sandbox.wait()
            throw Self.interrupted(by: signal)
        }

        if let record = sandbox.record { LaunchRecord.write(record) }

        var result = LaunchResult(exitStatus: 0)
        var relay: TerminalRelay?
        do {
            if let terminal, terminal.needsPty {
                relay = try TerminalRelay.start(master: try sandbox.receiveTerminal(), caller: terminal)
            }
            if let audit { try audit.receiveListener() }
        } catch {
            sandbox.killAndReap()
            relay?.finish()
            // A stopping signal that arrived during setup is forwarded to the workload as
            // soon as it exists, and may end it before it hands over its listener or
            // terminal: that is the run stopping as asked (128+N), not a setup failure.
            let signal = sandbox.stopSignalDuringSetup
            if signal != 0 { return LaunchResult(exitStatus: 128 + signal) }
            throw error
        }
        // From here on lpa-run only supervises (relay, audit, waiting for the init): the
        // pages of its binary that only start-up used are given back, so the parent's
        // resident memory for a long run is what supervising needs (shed.c says why
        // dropping them is safe: clean file pages, refaulted from the page cache on use).
        // A second in, so that short runs do not pay for it on their way out.
        _ = lpa_shed_startup_pages_later(1000)
        let dns = network.dnsSink ? DNSRecorder(log: options.auditLog) : nil
        if network.hasRelays || audit != nil {
            do {
                result.relay = try EventLoop.run(network: network, audit: audit, dns: dns, initPid: sandbox.pid)
            } catch {
                relay?.finish()
                throw error
            }
            if let audit {
                result.audit = audit.report
                if options.record {
                    let recorded = audit.recorded
                    let always = SeccompFilter.unrecordedCalls.compactMap(SeccompFilter.nativeNumber)
                    result.recordedSyscalls = Array(Set(recorded.numbers + always)).sorted()
                    result.unrecordedCalls = recorded.unrecorded
                }
            }
            result.dns = dns?.report
        }
        result.exitStatus = sandbox.wait()
        relay?.finish()
        result.tmpfsBytesDiscarded = sandbox.tmpfsBytesDiscarded()
        return result
    }

    /// The caller asked the run to stop during setup: it ends as a signal ends a program
    /// (128+N), like the same signal a moment later, once the command runs.
    public static func interrupted(by signal: Int32) -> LaunchError {
        LaunchError(step: "sandbox setup", message: "stopped by \(Self.signalName(signal)) before the command started",
                    hint: "nothing ran; the sandbox was torn down", exitCode: 128 + signal)
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        case SIGQUIT: "SIGQUIT"
        default: "signal \(signal)"
        }
    }

    /// What the launcher refuses before creating anything. The compiler already refuses
    /// these plans (with the profile position); this guards plans built elsewhere.
    static func preflight(_ plan: IsolationPlan) throws(LaunchError) -> String {
        guard let executable = plan.command.executable else {
            throw LaunchError(step: "resolve command", errno: ENOENT,
                              message: "command not found: \(plan.command.argv.first ?? "")",
                              hint: "check the name and PATH, or give an absolute path",
                              exitCode: LPAExitCode.notFound)
        }
        guard plan.noNewPrivs else {
            throw LaunchError(step: "no_new_privs", message: "a plan without no_new_privs cannot be run")
        }
        guard plan.namespaces.contains(.user), plan.namespaces.contains(.mount) else {
            throw LaunchError(step: "namespaces", message: "the user and mount namespaces are required")
        }
        return executable
    }
}
