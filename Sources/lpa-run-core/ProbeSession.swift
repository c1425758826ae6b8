#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy
import LPASandbox

/// One `lpa-run probe` run: sets up the host side (loopback listeners, a home canary,
/// a leaked descriptor), runs lpa-probe in sandboxes and turns its output into rows.
/// Everything it creates on the host is removed before it returns.
struct ProbeSession {
    let lpaRun: String
    let probe: String
    let profile: String
    let environment: [String: String]
    let cwd: String
    /// The plan the sandboxes are built from (host paths, cleanup) ...
    let run: PlanIntent
    /// ... and the plan whose intent the results are judged against (the same, or --expect).
    let intent: PlanIntent

    typealias Row = ProbeCommand.Row
    private var cleanup: [String] = []

    init(lpaRun: String, probe: String, profile: String, environment: [String: String], cwd: String,
         run: PlanIntent, intent: PlanIntent) {
        self.lpaRun = lpaRun
        self.probe = probe
        self.profile = profile
        self.environment = environment
        self.cwd = cwd
        self.run = run
        self.intent = intent
    }

    /// lpa-run --profile P -q lpa-probe ARGS
    func sandbox(_ arguments: [String]) -> CapturedProcess {
        CapturedProcess.run([lpaRun, "--profile", profile, "-q"] + isolationArguments + [probe] + arguments,
                            environment: environment)
    }

    /// `--isolation landlock` when the sandboxes run in the degraded mode.
    var isolationArguments: [String] {
        run.plan.isolation == .landlock ? ["--isolation", "landlock"] : []
    }

    func started(_ result: CapturedProcess) throws(ProbeError) -> CapturedProcess {
        // lpa-run's own statuses, or lpa-probe's 3: it refuses to run outside a sandbox.
        if [LPAExitCode.ownError, LPAExitCode.notExecutable, LPAExitCode.notFound, 3].contains(result.status) {
            throw ProbeError(message: "the sandbox did not start (exit \(result.status)): \(result.stderr)")
        }
        return result
    }

    mutating func runAll() throws(ProbeError) -> [Row] {
        defer { for path in cleanup { unlink(path) } }
        var rows: [Row] = []
        rows += try syscallRows()
        rows += try statusRows()
        rows.append(try secretRow())
        rows.append(try egressRow())
        rows.append(try abstractSocketRow())
        if let row = try homeCanaryRow() { rows.append(row) }
        for dir in ["/usr", "/etc", ""] { rows.append(try writeRow(in: dir)) }
        rows.append(try cwdRow())
        rows += try deviceRows()
        rows += try terminalRows()
        rows.append(try processGroupRow())
        rows.append(try symlinkedMountTargetRow())
        return rows
    }

    // MARK: escape-class system calls

    static let cloneNewUser: UInt64 = 0x1000_0000

    /// (lpa-probe name, syscall, the arguments the probe passes that rules may test)
    static let syscallProbes: [(String, String, [Int: UInt64])] = [
        ("ptrace", "ptrace", [0: 16]), ("process_vm_readv", "process_vm_readv", [:]),
        ("mount", "mount", [:]), ("umount2", "umount2", [:]), ("pivot_root", "pivot_root", [:]),
        ("unshare", "unshare", [0: cloneNewUser]),
        ("clone-newuser", "clone", [0: cloneNewUser | 0x20000 /* CLONE_NEWNS */ | UInt64(SIGCHLD)]),
        ("clone3", "clone3", [:]), ("setns", "setns", [0: UInt64.max, 1: 0]),
        ("io_uring_setup", "io_uring_setup", [:]), ("userfaultfd", "userfaultfd", [0: 0]),
        ("bpf", "bpf", [:]), ("perf_event_open", "perf_event_open", [:]),
        ("keyctl", "keyctl", [0: 9999]), ("add_key", "add_key", [:]),
        ("open_by_handle_at", "open_by_handle_at", [:]), ("init_module", "init_module", [:]),
        ("finit_module", "finit_module", [:]), ("kexec_load", "kexec_load", [:]),
        ("reboot", "reboot", [0: 0x1234, 1: 0x5678]), ("swapon", "swapon", [:]),
        ("socket-netlink", "socket", [0: UInt64(AF_NETLINK), 1: UInt64(SOCK_RAW.rawValue)]),
        ("socket-packet", "socket", [0: UInt64(AF_PACKET), 1: UInt64(SOCK_RAW.rawValue)]),
        ("socket-inet", "socket", [0: UInt64(AF_INET), 1: UInt64(SOCK_STREAM.rawValue)]),
        ("socket-unix", "socket", [0: UInt64(AF_UNIX), 1: UInt64(SOCK_STREAM.rawValue)]),
        ("ioctl-tiocsti", "ioctl", [1: 0x5412]),
        ("ioctl-tiocsti-highbits", "ioctl", [1: 0x1_0000_5412]),
        ("ioctl-tioclinux", "ioctl", [1: 0x541C]),
    ]

    func syscallRows() throws(ProbeError) -> [Row] {
        let result = try started(sandbox(["syscalls"]))
        let fields = result.fields
        var rows: [Row] = []
        for (name, syscall, args) in Self.syscallProbes {
            rows.append(judge(name, intent.syscallIntent(syscall, args: args), fields[name] ?? "missing",
                              what: "seccomp \(syscall)"))
        }
        #if arch(x86_64)
        rows.append(judge("int80", intent.otherArchitecturesIntent, fields["int80"] ?? "missing",
                          what: "i386 getpid through int $0x80"))
        #endif
        return rows
    }

    /// A blocked call must fail (with the plan's errno when it names one); an allowed
    /// call must not be stopped by the filter. The kernel may still refuse an allowed
    /// call for lack of a capability: that is reported, and passes.
    func judge(_ name: String, _ intent: Intent, _ result: String, what: String) -> Row {
        switch intent {
        case .blocked(let expected):
            let pass = expected.map { result == $0 } ?? (result != "ok")
            let detail = pass ? "\(what) stopped" :
                result == "ok" ? "\(what) succeeded but the profile blocks it\(expected.map { " with \($0)" } ?? "")"
                : "\(what): expected \(expected ?? "a failure"), got \(result)"
            return Row(probe: name, intent: "blocked", result: result, pass: pass, detail: detail)
        case .allowed:
            let pass = !result.hasPrefix("killed-by-signal") && result != "missing"
            let detail = !pass ? "\(what) is allowed by the profile but was stopped (\(result))"
                : result == "ok" ? "\(what) works" : "\(what) not filtered; the kernel refused it (\(result))"
            return Row(probe: name, intent: "allowed", result: result, pass: pass, detail: detail)
        }
    }

    // MARK: process status

    static func hostProcessCount() -> Int {
        guard let dir = opendir("/proc") else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0[0] }
            if first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") { count += 1 }
        }
        return count
    }

    func statusRows() throws(ProbeError) -> [Row] {
        // A descriptor without CLOEXEC, inherited by lpa-run: the workload must not get it.
        let leaked = open("/dev/null", O_RDONLY)
        defer { if leaked >= 0 { close(leaked) } }
        let result = try started(sandbox(["status"]))
        let f = result.fields
        var rows: [Row] = []

        let mask = intent.capabilityMask
        // The degraded mode run by a user cannot empty the bounding set (that needs
        // CAP_SETPCAP, which only a user namespace would give); with no_new_privs and no
        // capability in any other set, nothing can use it.
        let sets = ["CapEff", "CapPrm", "CapInh", "CapAmb"] + (intent.degraded && getuid() != 0 ? [] : ["CapBnd"])
        let extra = sets.compactMap { name -> String? in
            guard let value = f[name].flatMap({ UInt64($0, radix: 16) }) else { return "\(name) missing" }
            return value & ~mask == 0 ? nil : "\(name) \(f[name]!)"
        }
        let keep = intent.plan.capabilities.keep.map(\.name)
        rows.append(Row(probe: "capabilities", intent: keep.isEmpty ? "blocked" : "allowed",
                        result: "CapEff \(f["CapEff"] ?? "?") CapBnd \(f["CapBnd"] ?? "?")", pass: extra.isEmpty,
                        detail: extra.isEmpty ? (keep.isEmpty ? "no capability in any set" : "only \(keep.joined(separator: ","))")
                            : "more than the profile keeps: \(extra.joined(separator: ", "))"))

        let nnp = f["NoNewPrivs"] ?? "missing"
        rows.append(Row(probe: "no_new_privs", intent: intent.plan.noNewPrivs ? "blocked" : "allowed", result: nnp,
                        pass: !intent.plan.noNewPrivs || nnp == "1",
                        detail: nnp == "1" ? "setuid binaries cannot gain privileges" : "no_new_privs is not set"))

        let mode = f["Seccomp"] ?? "missing"
        rows.append(Row(probe: "seccomp-mode", intent: "blocked", result: mode, pass: mode == "2",
                        detail: mode == "2" ? "a seccomp filter is installed (mode 2)" : "no seccomp filter (mode \(mode))"))

        let processes = Int(f["processes"] ?? "") ?? -1, host = Self.hostProcessCount()
        if intent.has(.pid) {
            let pass = processes >= 0 && processes <= 8 && processes < host
            rows.append(Row(probe: "pid-namespace", intent: "blocked", result: "\(processes) processes, pid \(f["pid"] ?? "?")",
                            pass: pass, detail: pass ? "host processes (\(host)) are not visible"
                                : "expected only the sandbox's processes; \(host) on the host"))
        } else {
            rows.append(Row(probe: "pid-namespace", intent: "allowed", result: "\(processes) processes", pass: true,
                            detail: intent.degraded ? "lost in --isolation landlock: host processes are visible"
                                : "the profile shares the host's pid namespace"))
        }

        let fds = (f["fds"] ?? "").split(separator: " ").map(String.init)
        let leakedFds = fds.filter { !["0", "1", "2"].contains($0) }
        rows.append(Row(probe: "leaked-descriptors", intent: "blocked", result: "fds \(fds.joined(separator: " "))",
                        pass: leakedFds.isEmpty && f["fds"] != nil,
                        detail: leakedFds.isEmpty ? "inherited descriptor \(leaked) was closed"
                            : "descriptors \(leakedFds.joined(separator: " ")) reached the workload"))

        let core = f["core-limit"] ?? "missing"
        if let limit = intent.coreLimit {
            let got = UInt64(core)
            rows.append(Row(probe: "core-dumps", intent: limit == 0 ? "blocked" : "allowed", result: "limit \(core)",
                            pass: got != nil && got! <= limit,
                            detail: limit == 0 ? (got == 0 ? "RLIMIT_CORE is 0: no core dumps with prompts in them"
                                                  : "core dumps are possible") : "limit \(limit)"))
        }

        let interfaces = (f["interfaces"] ?? "").split(separator: " ").map(String.init)
        if intent.degraded {
            rows.append(Row(probe: "network-interfaces", intent: "allowed", result: interfaces.joined(separator: " "),
                            pass: true, detail: "lost in --isolation landlock: the host's interfaces (TCP ports limited by Landlock)"))
        } else if intent.plan.network.mode == .none {
            let pass = interfaces == ["lo"]
            rows.append(Row(probe: "network-interfaces", intent: "blocked", result: interfaces.joined(separator: " "),
                            pass: pass, detail: pass ? "loopback only" : "interfaces besides lo are present"))
        }
        if intent.has(.uts) {
            let name = f["hostname"] ?? "missing"
            rows.append(Row(probe: "hostname", intent: "blocked", result: name, pass: name == intent.plan.hostname,
                            detail: name == intent.plan.hostname ? "own UTS namespace"
                                : "expected \(intent.plan.hostname)"))
        }
        return rows
    }

    func secretRow() throws(ProbeError) -> Row {
        let result = try started(sandbox(["env"]))
        let present = result.stdout.split(separator: "\n").contains { $0.hasPrefix(ProbeCommand.secretName + "=") }
        let passes = intent.passesVariable(ProbeCommand.secretName)
        return Row(probe: "secret-variables", intent: passes ? "allowed" : "blocked",
                   result: present ? "present" : "absent", pass: present == passes,
                   detail: present == passes
                       ? (passes ? "\(ProbeCommand.secretName) passed in as the profile says" : "a fake \(ProbeCommand.secretName) did not reach the sandbox")
                       : (present ? "\(ProbeCommand.secretName) reached the sandbox" : "\(ProbeCommand.secretName) should have been passed"))
    }

    // MARK: network

    func egressRow() throws(ProbeError) -> Row {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard listener >= 0 else { throw ProbeError(message: "socket: \(String(cString: strerror(errno)))") }
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 8) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard bound else { throw ProbeError(message: "listen on 127.0.0.1: \(String(cString: strerror(errno)))") }
        let port = UInt16(bigEndian: address.sin_port)
        let result = try started(sandbox(["connect-tcp", "127.0.0.1", String(port)]))
        let said = result.fields["connect-tcp"] ?? "missing"
        let accepted = accept(listener, nil, nil)
        if accepted >= 0 { close(accepted) }
        let reached = accepted >= 0
        let endpoint = intent.plan.network.connect.contains { $0.hostPort == port && $0.sandboxPort == port }
        let allowed = intent.plan.network.mode == .host || endpoint
        let outcome = reached ? "reached" : said
        return Row(probe: "network-egress", intent: allowed ? "allowed" : "blocked", result: outcome,
                   pass: allowed == reached,
                   detail: reached == allowed
                       ? (reached ? "host 127.0.0.1:\(port) reachable as the profile says" : "host listener 127.0.0.1:\(port) not reachable")
                       : (reached ? "the sandbox reached the host listener 127.0.0.1:\(port)" : "the host listener 127.0.0.1:\(port) was not reached (\(said))"))
    }

    func abstractSocketRow() throws(ProbeError) -> Row {
        let name = "lpa-probe-\(getpid())-\(time(nil))"
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard listener >= 0 else { throw ProbeError(message: "socket(AF_UNIX): \(String(cString: strerror(errno)))") }
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, b) in bytes.enumerated() { buffer[i + 1] = b }  // leading NUL: abstract
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 }
        } && listen(listener, 8) == 0
        guard ok else { throw ProbeError(message: "bind abstract socket: \(String(cString: strerror(errno)))") }
        let result = try started(sandbox(["connect-abstract", name]))
        let said = result.fields["connect-abstract"] ?? "missing"
        let accepted = accept(listener, nil, nil)
        if accepted >= 0 { close(accepted) }
        let reached = accepted >= 0 || said == "ok"
        // The degraded mode has no network namespace; Landlock's scope (ABI 6) blocks instead.
        let allowed = intent.degraded ? !intent.plan.landlock.scopes.contains("abstract-unix-socket") : !intent.has(.net)
        return Row(probe: "abstract-unix-socket", intent: allowed ? "allowed" : "blocked",
                   result: reached ? "reached" : said, pass: allowed == reached,
                   detail: reached == allowed
                       ? (reached ? "host abstract sockets shared (no net namespace)" : "host abstract socket @\(name) not reachable")
                       : (reached ? "the sandbox reached the host abstract socket @\(name)" : "expected to reach @\(name)"))
    }

    // MARK: files

    mutating func homeCanaryRow() throws(ProbeError) -> Row? {
        guard let home = environment["HOME"], home.hasPrefix("/"), home != "/" else { return nil }
        let path = home + "/.lpa-probe-canary-\(getpid())"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            return Row(probe: "home-canary", intent: "blocked", result: "skipped", pass: true,
                       detail: "cannot create a canary in \(home): \(String(cString: strerror(errno)))")
        }
        close(fd)
        cleanup.append(path)
        let result = try started(sandbox(["read", path]))
        let said = result.fields["read"] ?? "missing"
        let allowed = intent.hostVisible(path)
        let visible = said == "ok"
        return Row(probe: "home-canary", intent: allowed ? "allowed" : "blocked", result: visible ? "visible" : said,
                   pass: allowed == visible,
                   detail: visible == allowed ? (visible ? "the profile binds \(home)" : "a file created in \(home) is not visible inside")
                       : (visible ? "host file \(path) is readable inside" : "\(path) should be visible"))
    }

    /// A file created at DIR/.lpa-probe-PID: must fail where the plan has no writable mount.
    mutating func writeRow(in dir: String) throws(ProbeError) -> Row {
        let path = dir + "/.lpa-probe-write-\(getpid())"
        if let host = run.hostPath(path) { cleanup.append(host) }
        let result = try started(sandbox(["write", path]))
        let said = result.fields["write"] ?? "missing"
        let name = "write " + (dir.isEmpty ? "/" : dir)
        if intent.writable(path) {
            let hostDir = intent.hostPath(dir.isEmpty ? "/" : dir)
            let hostRefuses = hostDir.map { access($0, W_OK) != 0 } ?? false
            return Row(probe: name, intent: "allowed", result: said, pass: said == "ok" || hostRefuses,
                       detail: said == "ok" ? "writable, as the profile says" : hostRefuses ? "writable mount; host permissions refuse the caller"
                           : "the profile makes it writable but the write failed")
        }
        return Row(probe: name, intent: "blocked", result: said, pass: said != "ok" && said != "missing",
                   detail: said == "ok" ? "created \(path) although the profile mounts it read-only" : "read-only (\(said))")
    }

    /// The host's current directory: writable from inside (and seen on the host) only
    /// when the plan binds it read-write at the same path.
    func cwdRow() throws(ProbeError) -> Row {
        let path = cwd + (cwd == "/" ? "" : "/") + ".lpa-probe-cwd-\(getpid())"
        let allowed = intent.hostVisible(path) && intent.writable(path)
        if access(cwd, W_OK) != 0 {
            return Row(probe: "cwd-read-write", intent: allowed ? "allowed" : "blocked", result: "skipped", pass: true,
                       detail: "the caller cannot write \(cwd) on the host")
        }
        let result = try started(sandbox(["write", path]))
        let said = result.fields["write"] ?? "missing"
        var st = stat()
        let onHost = lstat(path, &st) == 0
        if onHost { unlink(path) }
        return Row(probe: "cwd-read-write", intent: allowed ? "allowed" : "blocked",
                   result: onHost ? "written on host" : "not on host (\(said))", pass: onHost == allowed,
                   detail: onHost == allowed
                       ? (onHost ? "a file written inside appeared in \(cwd) (removed)" : "writes inside do not reach \(cwd)")
                       : (onHost ? "a write inside reached \(cwd)" : "the profile binds \(cwd) read-write but the write did not arrive"))
    }

    /// Device nodes the plan binds (GPU), checked only for those present on this host.
    func deviceRows() throws(ProbeError) -> [Row] {
        var present: [String] = []
        for entry in intent.plan.mounts where entry.kind == .device {
            guard let source = entry.source else { continue }
            var g = glob_t()
            defer { globfree(&g) }
            if glob(source, 0, nil, &g) == 0 {
                for i in 0..<Int(g.gl_pathc) { if let p = g.gl_pathv[i] { present.append(String(cString: p)) } }
            }
        }
        if present.isEmpty { return [] }
        var rows: [Row] = []
        var listings: [String: Set<String>] = [:]
        for path in present.prefix(16) {
            let parts = path.split(separator: "/")
            let dir = "/" + parts.dropLast().joined(separator: "/"), base = String(parts.last ?? "")
            if listings[dir] == nil {
                listings[dir] = Set(try started(sandbox(["ls", dir])).stdout.split(separator: "\n").map(String.init))
            }
            let seen = listings[dir]!.contains(base)
            rows.append(Row(probe: "device \(path)", intent: "allowed", result: seen ? "present" : "missing", pass: seen,
                            detail: seen ? "bound into the sandbox" : "the profile binds it but it is not there"))
        }
        return rows
    }

    // MARK: the caller's terminal, session and process group

    /// (lpa-probe name, request): the ioctls that take a terminal over.
    static let terminalIoctls: [(String, UInt64)] = [
        ("ioctl-tiocspgrp", UInt64(TIOCSPGRP)), ("ioctl-tiocsctty", UInt64(TIOCSCTTY)),
        ("ioctl-tiocsetd", UInt64(TIOCSETD)), ("ioctl-tioccons", UInt64(TIOCCONS)),
    ]

    /// lpa-run starts in this process's session, as from a user's shell: /dev/tty must
    /// not open inside (no controlling terminal of the host's; were 0-2 a terminal,
    /// lpa-run would relay one of the sandbox's own instead).
    func terminalRows() throws(ProbeError) -> [Row] {
        let f = try started(sandbox(["terminal"])).fields
        let tty = f["tty-open"] ?? "missing"
        let leader = f["session-leader"] ?? "missing"
        var rows = [
            Row(probe: "terminal-foreground", intent: "blocked", result: "open /dev/tty: \(tty)",
                pass: tty != "ok" && tty != "missing",
                detail: tty == "ok" ? "the workload opened a controlling terminal: it could read the next line typed"
                    : "no controlling terminal inside: the caller's terminal cannot be read or taken over"),
            Row(probe: "session", intent: "blocked", result: "session leader: \(leader)", pass: leader == "yes",
                detail: leader == "yes" ? "the workload has a session and process group of its own"
                    : "the workload shares a session with lpa-run"),
        ]
        for (name, request) in Self.terminalIoctls {
            rows.append(judge(name, intent.syscallIntent("ioctl", args: [1: request]), f[name] ?? "missing",
                              what: "seccomp ioctl \(name.dropFirst(6).uppercased())"))
        }
        return rows
    }

    /// A host process in lpa-run's process group (a sleeping sentinel) must survive the
    /// workload's kill(0, SIGUSR1). This process ignores SIGUSR1 meanwhile.
    func processGroupRow() throws(ProbeError) -> Row {
        let sleep = access("/bin/sleep", X_OK) == 0 ? "/bin/sleep" : "/usr/bin/sleep"
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGUSR1)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        var sentinel: pid_t = 0
        let previous = signal(SIGUSR1, SIG_IGN)
        defer { signal(SIGUSR1, previous) }
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(sleep), strdup("60"), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = [nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawn(&sentinel, sleep, nil, &attributes, argv, envp)
        guard rc == 0 else { throw ProbeError(message: "posix_spawn \(sleep): \(String(cString: strerror(rc)))") }
        defer {
            kill(sentinel, SIGKILL)
            var raw: Int32 = 0
            waitpid(sentinel, &raw, 0)
        }
        let f = try started(sandbox(["kill-group", String(SIGUSR1)])).fields
        usleep(50_000)
        var raw: Int32 = 0
        let alive = waitpid(sentinel, &raw, WNOHANG) == 0
        return Row(probe: "process-group-signals", intent: "blocked",
                   result: "kill(0) \(f["kill-group"] ?? "missing"); sentinel \(alive ? "alive" : "killed")", pass: alive,
                   detail: alive ? "kill(0) inside reaches only the sandbox's own process group"
                       : "kill(0) inside killed a host process in lpa-run's process group")
    }

    // MARK: mount targets

    /// A read-write directory holding a link an earlier run could have left
    /// (project/sub -> ../outside) and a mount below it: lpa-run must refuse (125) and
    /// create nothing through the link.
    func symlinkedMountTargetRow() throws(ProbeError) -> Row {
        var template = Array("/tmp/lpa-probe-link-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw ProbeError(message: "mkdtemp: \(String(cString: strerror(errno)))")
        }
        let root = String(cString: made)
        let profilePath = root + "/profile.yaml"
        defer {
            for path in [root + "/outside/deeper", root + "/project/sub/deeper"] { rmdir(path) }
            for path in [root + "/project/sub", profilePath] { unlink(path) }
            for path in [root + "/project", root + "/outside", root] { rmdir(path) }
        }
        mkdir(root + "/project", 0o755)
        mkdir(root + "/outside", 0o755)
        symlink("../outside", root + "/project/sub")
        let base = profile.contains("/") || profile.hasSuffix(".yaml") || profile.hasSuffix(".yml")
            ? (profile.hasPrefix("/") ? profile : cwd + "/" + profile) : profile
        let text = """
            description: lpa-run probe, a mount target behind a planted link
            extends: "\(base.replacingEvery("\\", with: "\\\\").replacingEvery("\"", with: "\\\""))"
            filesystem:
              read-write: ["\(root)/project", "\(root)/outside"]
              tmpfs: ["\(root)/project/sub/deeper"]

            """
        let fd = open(profilePath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ProbeError(message: "create \(profilePath): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let wrote = write(fd, bytes, bytes.count)
        close(fd)
        guard wrote == bytes.count else { throw ProbeError(message: "write \(profilePath)") }
        let result = CapturedProcess.run([lpaRun, "--profile", profilePath, "-q"] + isolationArguments
                                             + [probe, "exit", "0"], environment: environment)
        var st = stat()
        let created = lstat(root + "/outside/deeper", &st) == 0
        // The degraded mode makes no mounts at all: nothing can be created through the link.
        let refused = result.status == LPAExitCode.ownError || (intent.degraded && result.status == 0 && !created)
        return Row(probe: "symlinked-mount-target", intent: "blocked",
                   result: result.status == LPAExitCode.ownError ? "refused (125)" : "exit \(result.status)",
                   pass: refused && !created,
                   detail: created ? "the sandbox's setup created a directory through a planted link"
                       : intent.degraded && result.status == 0 ? "--isolation landlock makes no mounts: nothing was created through the link"
                       : refused ? "a link in a mount target's path stops the launch"
                       : "lpa-run ran a sandbox whose mount target is reached through a link")
    }
}
