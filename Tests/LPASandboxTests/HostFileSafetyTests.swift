import Foundation
import Testing

/// Issue 11, items 2, 8 and 9: what a sandbox can write or make lpa-run wait for is
/// hostile input. The files lpa-run writes for the user never follow a link planted
/// where they should be, never open a FIFO, never land where the sandbox writes; the
/// audit log is escaped and bounded; a slow host endpoint or a connection flood never
/// stalls the event loop.
enum HostFileFixtures {
    /// A fresh directory owned by the runner's user.
    static func directory(for runner: Runner, _ name: String) throws -> String {
        let dir = Binaries.shared.directory + "/\(name)-\(runner.who.rawValue)"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o755)
        chown(dir, uid(runner), uid(runner))
        return dir
    }

    static func uid(_ runner: Runner) -> uid_t { runner.who == .nobody ? 65534 : getuid() }

    /// A file standing in for ~/.bashrc, owned by the runner's user (so lpa-run could
    /// write it if it followed a link).
    static func bashrc(for runner: Runner) throws -> (path: String, text: String) {
        let home = try directory(for: runner, "standin-home")
        let path = home + "/.bashrc"
        let text = "# the user's own .bashrc\n"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chown(path, uid(runner), uid(runner))
        chmod(path, 0o644)
        return (path, text)
    }

    static func contents(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    /// Every byte of a log line is printable ASCII (the newline ends it).
    static func isPrintableASCII(_ line: Substring) -> Bool {
        line.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f }
    }
}

@Suite("files lpa-run writes on the host (issue 11, item 2)", .serialized)
struct HostOutputFileTests {
    @Test("a symlink planted at the --audit-log path is not followed: the target is unchanged, exit 125",
          arguments: Runner.all)
    func auditLogSymlinkNotFollowed(runner: Runner) throws {
        let dir = try HostFileFixtures.directory(for: runner, "log-link")
        let bashrc = try HostFileFixtures.bashrc(for: runner)
        let log = dir + "/audit.jsonl"
        try FileManager.default.createSymbolicLink(atPath: log, withDestinationPath: bashrc.path)
        lchown(log, HostFileFixtures.uid(runner), HostFileFixtures.uid(runner))

        let result = try runner.probeWithin(["misbehave"], options: ["--audit-log", log], seconds: 30)
        #expect(result.status == 125, "\(result.stderr)")
        #expect(result.stderr.contains("--audit-log") && result.stderr.contains(log), "\(result.stderr)")
        #expect(HostFileFixtures.contents(bashrc.path) == bashrc.text)
        // The workload never ran.
        #expect(!result.stdout.contains("connect-out"))
    }

    @Test("a symlink planted at the --report-json path is not followed, and an existing report is refused",
          arguments: Runner.all)
    func reportNeverWrittenThrough(runner: Runner) throws {
        let dir = try HostFileFixtures.directory(for: runner, "report-link")
        let bashrc = try HostFileFixtures.bashrc(for: runner)
        let link = dir + "/report.json"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: bashrc.path)
        lchown(link, HostFileFixtures.uid(runner), HostFileFixtures.uid(runner))
        let linked = try runner.probeWithin(["exit", "0"], options: ["--report-json", link], seconds: 30)
        #expect(linked.status == 125, "\(linked.stderr)")
        #expect(linked.stderr.contains("--report-json") && linked.stderr.contains(link), "\(linked.stderr)")
        #expect(HostFileFixtures.contents(bashrc.path) == bashrc.text)
        #expect(FileManager.default.destinationOfSymbolicLinkSafe(link) == bashrc.path)

        let existing = dir + "/existing.json"
        try "keep me\n".write(toFile: existing, atomically: false, encoding: .utf8)
        chown(existing, HostFileFixtures.uid(runner), HostFileFixtures.uid(runner))
        let refused = try runner.probeWithin(["exit", "0"], options: ["--report-json", existing], seconds: 30)
        #expect(refused.status == 125, "\(refused.stderr)")
        #expect(refused.stderr.contains("--report-json") && refused.stderr.contains("exists"), "\(refused.stderr)")
        #expect(HostFileFixtures.contents(existing) == "keep me\n")

        // Control: a new name is written, owned by the caller, mode 0600.
        let fresh = dir + "/fresh.json"
        let written = try runner.probeWithin(["exit", "0"], options: ["--report-json", fresh], seconds: 30)
        #expect(written.status == 0, "\(written.stderr)")
        var st = stat()
        #expect(lstat(fresh, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG)
        #expect(st.st_uid == HostFileFixtures.uid(runner) && st.st_mode & 0o777 == 0o600)
        #expect(HostFileFixtures.contents(fresh)?.contains("\"exit_status\"") == true)
    }

    @Test("a FIFO at the --audit-log or --report-json path does not hang lpa-run: exit 125 at once",
          arguments: Runner.all)
    func fifoRefusedWithoutHanging(runner: Runner) throws {
        let dir = try HostFileFixtures.directory(for: runner, "log-fifo")
        for option in ["--audit-log", "--report-json"] {
            let fifo = dir + "/fifo-\(option.dropFirst(2))"
            #expect(mkfifo(fifo, 0o666) == 0)
            chown(fifo, HostFileFixtures.uid(runner), HostFileFixtures.uid(runner))
            let started = Date()
            let result = try runner.probeWithin(["misbehave"], options: [option, fifo], seconds: 15)
            #expect(result.status == 125, "\(option): \(result.stderr)")
            #expect(result.stderr.contains(option) && result.stderr.contains(fifo), "\(result.stderr)")
            #expect(Date().timeIntervalSince(started) < 10)
        }
    }

    @Test("a log or report path inside a read-write bind of the plan (agent's working directory) is refused",
          arguments: Runner.all)
    func pathInsideReadWriteBindRefused(runner: Runner) throws {
        let project = try HostFileFixtures.directory(for: runner, "project")
        // A link elsewhere that leads into the project: the resolved path counts.
        let elsewhere = try HostFileFixtures.directory(for: runner, "elsewhere")
        try FileManager.default.createSymbolicLink(atPath: elsewhere + "/into-project", withDestinationPath: project)
        for (option, path) in [("--audit-log", project + "/audit.jsonl"), ("--report-json", project + "/report.json"),
                               ("--audit-log", "audit.jsonl"),
                               ("--audit-log", elsewhere + "/into-project/audit.jsonl")] {
            let result = try runner.run(["--profile", "agent", option, path, Binaries.shared.probe, "exit", "0"],
                                        cwd: project, seconds: 30)
            #expect(result.status == 125, "\(option) \(path): \(result.stderr)")
            #expect(result.stderr.contains(option) && result.stderr.contains("read-write"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: project + "/audit.jsonl"))
            #expect(!FileManager.default.fileExists(atPath: project + "/report.json"))
        }
        // Control: outside the project the same run writes its log.
        let log = elsewhere + "/audit.jsonl"
        let allowed = try runner.run(["--profile", "agent", "--audit-log", log, Binaries.shared.probe, "misbehave"],
                                     cwd: project, seconds: 30)
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect((HostFileFixtures.contents(log) ?? "").contains("\"syscall\":\"mount\""))
    }

    @Test("a string the workload chose ($(...), newline, ESC, quotes, non-ASCII) is escaped in the log and report",
          arguments: Runner.all)
    func workloadStringEscaped(runner: Runner) throws {
        let dir = try HostFileFixtures.directory(for: runner, "log-escape")
        let log = dir + "/audit.jsonl", report = dir + "/report.json"
        let hostile = "x$(touch /tmp/pwned)`id`\n{\"action\":\"allowed\"}\r\u{1b}[31mred\u{7f}\u{85}\u{202e}é\\"
        let result = try runner.probeWithin(["mount-named", hostile], options: ["--audit-log", log, "--report-json", report],
                                      seconds: 30)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.fields["mount-named"] == "EPERM")
        let text = try #require(HostFileFixtures.contents(log))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 1, "\(text)")
        #expect(text.hasSuffix("}\n"))
        for line in lines {
            #expect(HostFileFixtures.isPrintableASCII(line), "\(line)")
            #expect(!line.contains("$(") && !line.contains("`"), "\(line)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["action"] as? String == "blocked")
            #expect(object["detail"] as? String == "target /nonexistent-lpa-probe/" + hostile)
        }
        let reportText = try #require(HostFileFixtures.contents(report))
        #expect(reportText.dropLast().split(separator: "\n").allSatisfy(HostFileFixtures.isPrintableASCII), "\(reportText)")
        #expect(try JSONSerialization.jsonObject(with: Data(reportText.utf8)) is [String: Any])
        // The report on stderr goes to a terminal: no escape sequence or bidi override.
        #expect(!result.stderr.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{202e}" || $0 == "\u{85}" })
    }
}

extension Runner {
    /// lpa-run --profile strict OPTIONS lpa-probe ARGS, killed (and the test failed) after `seconds`.
    func probeWithin(_ probeArguments: [String], options: [String] = [], seconds: Double) throws -> Result {
        try run(["--profile", "strict"] + options + [Binaries.shared.probe] + probeArguments, seconds: seconds)
    }
}

extension FileManager {
    func destinationOfSymbolicLinkSafe(_ path: String) -> String? { try? destinationOfSymbolicLink(atPath: path) }
}

@Suite("audit log integrity (issue 11, item 9)", .serialized)
struct AuditLogIntegrityTests {
    /// 200 000 denied calls write at most the rate limit's lines, then one summary line
    /// per syscall; everything stays JSON lines and the counts add up.
    @Test("a flood of denied calls is rate-limited and summarized; the log stays JSON lines", arguments: Runner.all)
    func floodIsBounded(runner: Runner) throws {
        let dir = try HostFileFixtures.directory(for: runner, "log-flood")
        let log = dir + "/audit.jsonl", report = dir + "/report.json"
        let count = 200_000
        let started = Date()
        let result = try runner.probeWithin(["repeat-denied", String(count)],
                                      options: ["--audit-log", log, "--report-json", report], seconds: 240)
        let seconds = Date().timeIntervalSince(started)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.fields["repeat-denied"] == "EPERM")
        var st = stat()
        #expect(stat(log, &st) == 0)
        #expect(st.st_size <= 10 << 20)
        let text = try #require(HostFileFixtures.contents(log))
        var logged = 0, suppressed = 0
        for line in text.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                                      "not JSON: \(line)")
            #expect(object["syscall"] as? String == "kcmp")
            switch object["action"] as? String {
            case "blocked": logged += 1
            case "suppressed": suppressed += object["count"] as? Int ?? 0
            default: Issue.record("unexpected line \(line)")
            }
        }
        // At most 100 lines per syscall and second (a window may be split in two).
        #expect(logged <= 100 * (Int(seconds) + 2), "\(logged) lines in \(seconds) s")
        #expect(suppressed > 0)
        #expect(logged + suppressed == count, "\(logged) logged + \(suppressed) suppressed")
        #expect(text.split(separator: "\n").last?.contains("\"suppressed\"") == true)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report)))
        let blocked = (object as? [String: Any])?["blocked"] as? [String: Any]
        #expect(blocked?["total"] as? Int == count)
    }
}

/// A TCP listener on the host's 127.0.0.1 with a chosen backlog that never accepts.
final class NeverAcceptingListener {
    let fd: Int32
    let port: UInt16
    private var fillers: [Int32] = []

    init(backlog: Int32) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else { throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = UInt16(bigEndian: addr.sin_port)
    }

    /// Fills the accept queue from this process (non-blocking connects), so the next
    /// connect waits in SYN_SENT for as long as the kernel retries.
    func fill(_ count: Int) {
        for _ in 0..<count {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = port.bigEndian
            _ = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            fillers.append(s)
        }
        usleep(100_000)
    }

    deinit {
        fillers.forEach { close($0) }
        close(fd)
    }
}

@Suite("event loop under load (issue 11, item 8)", .serialized)
struct EventLoopLoadTests {
    static func elapsedMilliseconds(_ output: String, _ name: String) -> Int? {
        output.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ")[1]) }
    }

    @Test("a host endpoint that never accepts stalls neither an audited call nor a published port",
          arguments: Runner.all)
    func busyEndpointDoesNotStall(runner: Runner) throws {
        let busy = try NeverAcceptingListener(backlog: 0)
        busy.fill(3)
        let published = try LoopbackHTTP.candidatePort()
        let probe = Binaries.shared.probe
        let script = "\(probe) echo-server 9000 & \(probe) connect-tcp 127.0.0.1 8080; sleep 0.5; "
            + "\(probe) repeat-denied 1; echo ready; exec \(probe) wait-signal"
        // strict plus the probe's directory (the command is /bin/sh, whose directory is bound anyway).
        let profile = Binaries.shared.profile(named: "strict-with-probe", """
            extends: strict
            filesystem:
              read-only: ["\(Binaries.shared.directory)"]
            """)
        let child = try Spawned(runner.command(["--profile", profile, "--connect", "127.0.0.1:\(busy.port):8080",
                                                "-p", "127.0.0.1:\(published):9000", "/bin/sh", "-c", script]),
                                environment: runner.environment(), cwd: Binaries.shared.directory)
        defer {
            kill(child.pid, SIGTERM)
            _ = child.finish(seconds: 30)
        }
        // lpa-run is connecting to the busy endpoint now; the denied call is answered at once.
        #expect(child.waitForLine("ready", seconds: 10))
        let output = String(decoding: child.stdout, as: UTF8.self)
        #expect(output.contains("connect-tcp ok"), "\(output)")
        #expect(output.contains("repeat-denied EPERM"), "\(output)")
        let ms = Self.elapsedMilliseconds(output, "repeat-denied-ms")
        #expect(ms != nil && ms! < 1000, "an audited call took \(ms ?? -1) ms")

        // The published port still relays, promptly.
        let started = Date()
        let fd = try LoopbackHTTP.connect(port: published)
        defer { close(fd) }
        try LoopbackHTTP.sendAll(fd, Array("ping".utf8))
        shutdown(fd, Int32(SHUT_WR))
        #expect(try LoopbackHTTP.readToEOF(fd, before: Deadline(seconds: 5), waitingFor: "the echo through -p")
                == Array("ping".utf8))
        #expect(Date().timeIntervalSince(started) < 1)
    }

    @Test("a connect to a host endpoint that never completes is given up after 10 s: the client sees EOF",
          arguments: Runner.all)
    func silentEndpointTimesOut(runner: Runner) throws {
        let busy = try NeverAcceptingListener(backlog: 0)
        busy.fill(3)
        let script = """
            import socket, time
            s = socket.create_connection(("127.0.0.1", 8080))
            s.settimeout(60)
            t = time.monotonic()
            try:
                data = s.recv(1)
            except OSError:
                data = b"error"
            print("closed-after-ms", int((time.monotonic() - t) * 1000), flush=True)
            print("eof", data == b"", flush=True)
            """
        let result = try runner.run(["--connect", "127.0.0.1:\(busy.port):8080", "/usr/bin/python3", "-c", script],
                                    seconds: 40)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.fields["eof"] == "True", "\(result.stdout)")
        let ms = Self.elapsedMilliseconds(result.stdout, "closed-after-ms") ?? -1
        #expect(ms >= 8_000 && ms < 14_000, "the connection closed after \(ms) ms")
    }

    @Test("connections to a host endpoint beyond the cap are closed at once; the loop stays responsive",
          arguments: Runner.all)
    func connectionsBeyondCapClosed(runner: Runner) throws {
        let host = try NeverAcceptingListener(backlog: 2048)
        let script = """
            import ctypes, socket, select, time
            socks = []
            for i in range(600):
                s = socket.socket()
                s.settimeout(5)
                s.connect(("127.0.0.1", 8080))
                socks.append(s)
            time.sleep(1.5)
            closed = 0
            p = select.poll()
            for s in socks:
                p.register(s, select.POLLIN)
            for fd, ev in p.poll(0):
                s = next(x for x in socks if x.fileno() == fd)
                try:
                    if s.recv(1) == b"":
                        closed += 1
                except OSError:
                    closed += 1
            print("closed", closed, flush=True)
            t = time.monotonic()
            ctypes.CDLL(None, use_errno=True).syscall(312, -1, -1, -1, -1, -1)
            print("denied-ms", int((time.monotonic() - t) * 1000), flush=True)
            """
        let result = try runner.run(["--connect", "127.0.0.1:\(host.port):8080", "/usr/bin/python3", "-c", script],
                                    seconds: 60)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.fields["closed"] == "88", "\(result.stdout)")
        let ms = Self.elapsedMilliseconds(result.stdout, "denied-ms")
        #expect(ms != nil && ms! < 1000, "\(result.stdout)")
    }

    /// lpa-run with few descriptors (prlimit): accept fails with EMFILE while clients
    /// wait. The loop must pause accepting rather than spin on the level-triggered
    /// listener. Six descriptor limits cover every remainder of the six descriptors a
    /// relayed connection costs.
    @Test("out of descriptors, lpa-run does not spin", arguments: Runner.all)
    func emfileDoesNotSpin(runner: Runner) throws {
        let host = try NeverAcceptingListener(backlog: 2048)
        let script = """
            import socket, time
            socks = []
            for i in range(30):
                try:
                    socks.append(socket.create_connection(("127.0.0.1", 8080), timeout=0.5))
                except OSError:
                    pass
            print("connected", len(socks), flush=True)
            time.sleep(30)
            """
        for limit in 60..<66 {
            let child = try Spawned(["/usr/bin/prlimit", "--nofile=\(limit):\(limit)", "--"]
                                        + runner.command(["--connect", "127.0.0.1:\(host.port):8080",
                                                          "/usr/bin/python3", "-c", script]),
                                    environment: runner.environment(), cwd: Binaries.shared.directory)
            defer {
                kill(child.pid, SIGTERM)
                _ = child.finish(seconds: 30)
            }
            guard child.waitForLine("connected 30", seconds: 20) else { continue }
            let before = Self.cpuTicks(child.pid)
            usleep(1_500_000)
            let used = Self.cpuTicks(child.pid) - before
            // 150 ticks would be a busy loop; an idle loop uses next to none.
            #expect(used < 30, "lpa-run with \(limit) descriptors used \(used) ticks of CPU in 1.5 s")
        }
    }

    /// utime + stime of a process, in clock ticks.
    static func cpuTicks(_ pid: pid_t) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the name: state is field 3, utime 14, stime 15.
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
}
