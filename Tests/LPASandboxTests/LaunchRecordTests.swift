import CLaunch
@testable import LPASandbox
import Foundation
import Testing

/// The launch record (Sources/CLaunch/record.c, LPASandbox/Record): a repeated command
/// line is launched from its record, before any compile. Every test here runs the real
/// lpa-run twice or more, as root and as uid 65534, and checks that a run from a record
/// does what a compiled run does, and that each kind of host change the compile depended
/// on sends the run back to the compiler. `LPA_LAUNCH_RECORD_TRACE=1` makes lpa-run say
/// which path it took.
@Suite("launch record", .serialized)
struct LaunchRecordTests {
    static let trace = ["LPA_LAUNCH_RECORD_TRACE": "1"]

    /// A workspace with a user profile (extends strict, sets a variable, binds `data`),
    /// settled: the record skips anything changed in the last two seconds.
    struct Fixture {
        let base: String
        let profile: String
        let data: String
        let runner: Runner

        init(_ name: String, _ runner: Runner, value: String = "first", settle: Bool = true) throws {
            self.runner = runner
            base = try PolicySafetyTests.workspace("record-\(name)", runner)
            let owner = PolicySafetyTests.callerUid(runner)
            data = base + "/data"
            profile = base + "/p.yaml"
            try PolicySafetyTests.makeDirectory(data + "/deep", owner: owner)
            try PolicySafetyTests.writeFile(data + "/note.txt", "from the host\n", owner: owner, mode: 0o644)
            try Self.writeProfile(profile, value: value, data: data, owner: owner)
            if settle { Thread.sleep(forTimeInterval: 2.5) }
        }

        static func writeProfile(_ path: String, value: String, data: String, owner: uid_t) throws {
            try PolicySafetyTests.writeFile(path, """
                extends: strict
                environment:
                  set:
                    RECORD_VALUE: "\(value)"
                filesystem:
                  read-only:
                    - \(data)

                """, owner: owner, mode: 0o644)
        }

        /// Runs until a run says it wrote its record (the first run in a new home also
        /// creates the cache directory, which it consulted: that one is not recorded).
        func warm(_ extra: [String: String] = [:], script: String? = nil) throws {
            var said: [String] = []
            for _ in 0..<3 {
                let result = try script.map { try run(extra, script: $0) } ?? run(extra)
                said.append(LaunchRecordTests.path(result))
                if said.last! == "hit" || (said.last!.hasSuffix("written") && !said.last!.contains("not written")) { return }
            }
            Issue.record("no record was written: \(said)")
        }

        func run(_ extra: [String: String] = [:], script: String = "echo $RECORD_VALUE; cat /data-note 2>/dev/null; exit 7")
            throws -> Runner.Result {
            try runner.run(["--profile", profile, "/bin/sh", "-c", script.replacingOccurrences(of: "/data-note", with: data + "/note.txt")],
                           env: LaunchRecordTests.trace.merging(extra) { $1 })
        }
    }

    static func path(_ result: Runner.Result) -> String {
        result.stderr.split(separator: "\n").filter { $0.hasPrefix("lpa-run: launch record: ") }
            .map { String($0.dropFirst("lpa-run: launch record: ".count)) }.joined(separator: "; ")
    }

    @Test("a repeated run is launched from its record and does what a compiled run does", arguments: Runner.all)
    func repeatedRunHits(runner: Runner) throws {
        let f = try Fixture("hit", runner)
        let first = try f.run()
        #expect(!Self.path(first).contains("hit"), "\(first.stderr)")
        try f.warm()
        let second = try f.run()
        #expect(Self.path(second) == "hit", "\(second.stderr)")
        let compiled = try f.run(["LPA_START_CACHE": "off"])
        #expect(Self.path(compiled).isEmpty || !Self.path(compiled).contains("hit"), "\(compiled.stderr)")
        for result in [first, second, compiled] {
            #expect(result.status == 7, "\(result.stderr)")
            #expect(result.stdout == "first\nfrom the host\n", "\(result.stdout)")
        }
        // The exit report is the compiled run's: a refused call and a looked-up name.
        // A thread first: glibc's clone3 is refused as expected (ENOSYS, then clone), which
        // the front counts before it has a reporter and the report lists beside the keyctl.
        let refused = "python3 -c 'import ctypes,socket,threading; t=threading.Thread(target=len, args=((),)); t.start(); t.join(); ctypes.CDLL(None).syscall(250,0,0,0,0,0)\ntry: socket.getaddrinfo(\"record.invalid\", 80)\nexcept OSError: pass'"
        try f.warm(script: refused)
        let fast = try f.run(script: refused)
        let slow = try f.run(["LPA_START_CACHE": "off"], script: refused)
        #expect(Self.path(fast) == "hit", "\(fast.stderr)")
        let report = { (r: Runner.Result) in
            r.stderr.split(separator: "\n").filter {
                !$0.hasPrefix("lpa-run: launch record:") && !$0.hasPrefix("lpa-run: reporter:") && !$0.contains("ran ")
            }
        }
        #expect(report(fast) == report(slow), "\(fast.stderr)\n---\n\(slow.stderr)")
        #expect(fast.stderr.contains("keyctl"), "\(fast.stderr)")
        #expect(fast.stderr.contains("record.invalid"), "\(fast.stderr)")
        #expect(fast.stderr.contains("expected, handled by design: clone3"), "\(fast.stderr)")
    }

    @Test("a workload that holds every descriptor lpa-run may open cannot keep its refusals out of the report (red team)",
          arguments: Runner.all)
    func reportSurvivesExhaustedDescriptors(runner: Runner) throws {
        let f = try Fixture("descriptors", runner)
        // 30 connections to the DNS sink take the launcher's last descriptors (given half
        // a second to be accepted) while the refused calls happen: the front cannot start
        // its reporter then (it spools). They are closed when the workload ends.
        // Then 4,000 refused mounts with long targets and 100 keyctls fill the front's
        // spool to the last byte, and the call that matters comes last: the report must
        // still name it (red team 2).
        let script = "python3 -c 'import ctypes,socket,time\ns=[socket.create_connection((\"127.0.0.1\", 53)) for _ in range(30)]\ntime.sleep(0.5)\nlibc=ctypes.CDLL(None)\nfor i in range(4000): libc.mount(b\"x\", b\"/tmp/\" + b\"a\" * 250, b\"tmpfs\", 0, None)\nfor i in range(100): libc.syscall(250,0,0,0,0,0)\ntry: socket.socket(17, socket.SOCK_RAW)\nexcept OSError: pass'"
        // The descriptor limit is lpa-run's caller's, not part of the record's key: the
        // record is written without one, and a hit then runs under it. How many
        // descriptors lpa-run needs depends on the machine (as root: a tmpfs each), so
        // the limit is raised until a hit both sets up and fills the spool.
        func run(_ extra: [String: String], limit: Int? = nil) throws -> Runner.Result {
            let argv = (limit.map { ["/usr/bin/prlimit", "--nofile=\($0):\($0)"] } ?? [])
                + runner.command(["--profile", f.profile, "/bin/sh", "-c", script])
            let child = try Spawned(argv, environment: runner.environment(extra: Self.trace.merging(extra) { $1 }),
                                    cwd: Binaries.shared.directory)
            let (status, stdout, stderr) = child.finish(seconds: 120)
            return Runner.Result(status: status, stdout: stdout, stderr: stderr)
        }
        var tried: [String] = []
        var spooled: Runner.Result?
        for limit in stride(from: 36, through: 60, by: 4) where spooled == nil {
            var warm = try run([:])
            for _ in 0..<3 where Self.path(warm) != "hit" && !Self.path(warm).hasSuffix("; written") { warm = try run([:]) }
            let attempt = try run([:], limit: limit)
            tried.append("\(limit): \(Self.path(attempt))")
            if Self.path(attempt) == "hit" && attempt.stderr.contains("lpa-run: reporter: spool full") { spooled = attempt }
        }
        let fast = try #require(spooled, "no descriptor limit made a hit spool: \(tried)")
        let slow = try run(["LPA_START_CACHE": "off"])
        // Without a descriptor to read its status file, a caller's pid inside the sandbox
        // is unknown and its host pid is named instead: different in every run.
        let report = { (r: Runner.Result) in
            r.stderr.split(separator: "\n").filter {
                !$0.hasPrefix("lpa-run: launch record:") && !$0.hasPrefix("lpa-run: reporter:") && !$0.contains("ran ")
            }
                .map { $0.replacing(/by pid [0-9]+/, with: "by pid N") }
        }
        #expect(report(fast) == report(slow), "\(fast.stderr)\n---\n\(slow.stderr)")
        #expect(fast.stderr.contains("keyctl"), "\(fast.stderr)")
        #expect(fast.stderr.contains("mount 4000"), "\(fast.stderr)")
        #expect(fast.stderr.contains("keyctl 100"), "\(fast.stderr)")
        #expect(fast.stderr.contains("packet"), "\(fast.stderr)")
        #expect(fast.status == slow.status, "\(fast.stderr)")
    }

    /// The front's reserve keeps what the report can name: as many destinations and
    /// names as the core's reporters keep.
    @Test func reportReserveMatchesTheReportsLimits() {
        #expect(Int(LPA_REPORT_EGRESS_RESERVE) == AuditSupervisor.destinationLimit)
        #expect(Int(LPA_REPORT_DNS_RESERVE) == DNSRecorder.nameLimit)
    }

    /// The processes whose parent is `pid` and whose argv[1] is the reporter's word.
    static func reporters(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == pid,
                  let argv = FileManager.default.contents(atPath: "/proc/\(candidate)/cmdline") else { return false }
            return argv.split(separator: 0).dropFirst().first.map { Array($0) } == Array(LPA_REPORTER_ARGUMENT.utf8)
        }
    }

    @Test("the reporter a launch from a record started leaves when lpa-run is killed", arguments: Runner.all)
    func reporterLeavesWithTheFront(runner: Runner) throws {
        let f = try Fixture("reporter", runner)
        // A refused call (so the front starts its reporter), then time to kill it.
        let script = "python3 -c 'import ctypes; ctypes.CDLL(None).syscall(250,0,0,0,0,0)'; sleep 4"
        try f.warm(script: script)
        let child = try Spawned(runner.command(["--profile", f.profile, "/bin/sh", "-c", script]),
                                environment: runner.environment(extra: Self.trace), cwd: Binaries.shared.directory)
        var reporters: [pid_t] = []
        for _ in 0..<300 where reporters.isEmpty {
            reporters = Self.reporters(of: child.pid)
            if reporters.isEmpty { usleep(10_000) }
        }
        #expect(reporters.count == 1, "no reporter was started for the refused call")
        kill(child.pid, SIGKILL)
        _ = child.finish(seconds: 30)
        // Gone, or a zombie waiting for whoever inherited it: it did not stay running.
        var running = reporters
        for _ in 0..<300 where !running.isEmpty {
            running = reporters.filter { pid in
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")") else { return false }
                return !stat[stat.index(after: close)...].hasPrefix(" Z")
            }
            if !running.isEmpty { usleep(10_000) }
        }
        #expect(running.isEmpty, "the reporter \(running) outlived lpa-run by 3 s")
    }

    @Test("a profile changed since the record is compiled again", arguments: Runner.all)
    func changedProfileMisses(runner: Runner) throws {
        let f = try Fixture("profile", runner)
        try f.warm()
        #expect(Self.path(try f.run()) == "hit")
        // Same length, other bytes: only the timestamps tell.
        try Fixture.writeProfile(f.profile, value: "other", data: f.data, owner: PolicySafetyTests.callerUid(runner))
        let changed = try f.run()
        #expect(Self.path(changed).hasPrefix("miss: the host changed"), "\(changed.stderr)")
        #expect(changed.stdout.hasPrefix("other\n"), "a record ran an old profile: \(changed.stdout)")
    }

    @Test("a socket that appears under a bind source stops the run instead of a record launching it",
          arguments: Runner.all)
    func newSocketMisses(runner: Runner) throws {
        for listening in [true, false] {
            let f = try Fixture("socket-\(listening)", runner)
            try f.warm()
            #expect(Self.path(try f.run()) == "hit")
            let path = f.data + "/deep/agent.sock"
            var listener: PathListener? = try PathListener(path: path)
            if !listening { listener = nil }  // a socket file nobody listens on: only the walk finds it
            let result = try f.run()
            #expect(result.status == 125, "a record bound a directory holding a socket: \(result.stderr)")
            #expect(!Self.path(result).contains("hit"), "\(result.stderr)")
            #expect(result.stderr.contains("agent.sock"), "\(result.stderr)")
            _ = listener
        }
    }

    @Test("a command that appears earlier on PATH is the one that runs", arguments: Runner.all)
    func earlierCommandOnPathMisses(runner: Runner) throws {
        let f = try Fixture("path", runner)
        let owner = PolicySafetyTests.callerUid(runner)
        for dir in ["one", "two"] { try PolicySafetyTests.makeDirectory(f.data + "/" + dir, owner: owner) }
        try PolicySafetyTests.writeFile(f.data + "/two/tool", "#!/bin/sh\necho two\n", owner: owner, mode: 0o755)
        Thread.sleep(forTimeInterval: 2.5)
        let env = ["PATH": "\(f.data)/one:\(f.data)/two:/usr/bin:/bin"].merging(Self.trace) { $1 }
        let args = ["--profile", f.profile, "tool"]
        for _ in 0..<3 where !Self.path(try runner.run(args, env: env)).hasSuffix(" written") {}
        let hit = try runner.run(args, env: env)
        #expect(Self.path(hit) == "hit" && hit.stdout == "two\n", "\(hit.stderr)")
        try PolicySafetyTests.writeFile(f.data + "/one/tool", "#!/bin/sh\necho one\n", owner: owner, mode: 0o755)
        let moved = try runner.run(args, env: env)
        #expect(moved.stdout == "one\n", "a record ran the command PATH no longer names: \(moved.stdout) \(moved.stderr)")
    }

    @Test("command lines that differ only past their first MiB have records of their own (red team)",
          arguments: Runner.all)
    func longCommandLinesAreKeyedInFull(runner: Runner) throws {
        let f = try Fixture("long", runner)
        // 1.2 MB of --env before the command (one argument may hold 128 KiB): the key is all
        // of argv, never a prefix of it.
        let pad = (1...10).flatMap { ["--env", "PAD\($0)=" + String(repeating: "a", count: 120_000)] }
        func run(_ word: String) throws -> Runner.Result {
            try runner.run(["--profile", f.profile] + pad + ["/bin/sh", "-c", "echo " + word], env: Self.trace)
        }
        for _ in 0..<3 where Self.path(try run("first")) != "hit" {}
        let hit = try run("first")
        #expect(Self.path(hit) == "hit" && hit.stdout == "first\n", "\(hit.stderr.suffix(300))")
        let other = try run("other")
        #expect(other.stdout == "other\n", "a record of another command line ran: \(other.stdout)")
        #expect(!Self.path(other).contains("hit"), "\(other.stderr.suffix(300))")
    }

    @Test("a profile changed in the last two seconds is not recorded", arguments: Runner.all)
    func freshFilesAreNotRecorded(runner: Runner) throws {
        let f = try Fixture("fresh", runner, settle: false)
        for _ in 0..<2 {
            let result = try f.run()
            #expect(result.status == 7, "\(result.stderr)")
            #expect(!Self.path(result).contains("hit"), "\(result.stderr)")
            #expect(!Self.path(result).hasSuffix("; written"), "a file changed within its timestamp tick was recorded")
        }
        Thread.sleep(forTimeInterval: 2.5)
        try f.warm()
        #expect(Self.path(try f.run()) == "hit")
    }

    @Test("the cache keeps the newest 64 records and drops a stale temporary file", arguments: Runner.all)
    func oldRecordsAreDropped(runner: Runner) throws {
        let f = try Fixture("evict", runner)
        _ = try f.run()
        let cache = runner.home + "/.cache/lpa-run"
        Self.removeRecords(cache)
        let stale = cache + "/launch-0000000000000000.v1.tmp.1"
        try PolicySafetyTests.writeFile(stale, "partial", owner: PolicySafetyTests.callerUid(runner), mode: 0o600)
        var old = [timeval(tv_sec: time(nil) - 120, tv_usec: 0), timeval(tv_sec: time(nil) - 120, tv_usec: 0)]
        #expect(utimes(stale, &old) == 0)
        // 70 command lines, each a record of its own (all of argv is the key).
        for i in 0..<70 { _ = try f.run(script: "exit 7 # \(i)") }
        let records = try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasPrefix("launch-") }
        #expect(records.filter { $0.hasSuffix(".v1") }.count == 64, "\(records.count) records kept")
        #expect(!records.contains { $0.contains(".tmp.") }, "\(records)")
        // The newest is among those kept.
        #expect(Self.path(try f.run(script: "exit 7 # 69")) == "hit")
    }

    @Test("a record file lpa-run would not have written is ignored", arguments: Runner.all)
    func plantedRecordIsIgnored(runner: Runner) throws {
        let f = try Fixture("planted", runner)
        _ = try f.run()
        let cache = runner.home + "/.cache/lpa-run"
        Self.removeRecords(cache)
        try f.warm()
        let names = try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasPrefix("launch-") }
        try #require(names.count == 1)
        for name in names {
            let file = cache + "/" + name
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            // Truncated, then with one byte of its spec changed, then readable by others.
            let damaged: [(String, [UInt8], mode_t)] = [
                ("truncated", Array(bytes.prefix(bytes.count / 2)), 0o600),
                ("trailing byte", bytes + [0], 0o600),
                ("group-readable", bytes, 0o640),
            ]
            for (what, content, mode) in damaged {
                try Data(content).write(to: URL(fileURLWithPath: file))
                chmod(file, mode)
                let result = try f.run()
                #expect(!Self.path(result).contains("hit"), "\(what): \(result.stderr)")
                #expect(result.status == 7 && result.stdout.hasPrefix("first\n"), "\(what): \(result.stderr)")
            }
        }
    }

    static func removeRecords(_ cache: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? [] where name.hasPrefix("launch-") {
            unlink(cache + "/" + name)
        }
    }

    /// The manifest's paths, from a record file (the layout in record.c's header).
    static func manifestPaths(_ bytes: [UInt8]) -> Set<String> {
        var at = 8
        func u32() -> Int {
            guard at + 4 <= bytes.count else { return 0 }
            defer { at += 4 }
            return Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
        }
        let keyLength = u32()
        at += keyLength
        var paths = Set<String>()
        for _ in 0..<u32() {
            _ = u32()  // how
            let length = u32()
            guard at + length <= bytes.count else { break }
            paths.insert(String(decoding: bytes[at..<at + length], as: UTF8.self))
            at += length + 1 + MemoryLayout<lpa_fingerprint>.size
        }
        return paths
    }

    @Test("every host path a recorded run consults is in its record's manifest (traced)", arguments: Runner.all)
    func manifestIsComplete(runner: Runner) throws {
        let strace = "/usr/bin/strace"
        try #require(FileManager.default.isExecutableFile(atPath: strace), "strace is installed by make deps")
        let f = try Fixture("complete", runner)
        _ = try f.run()  // the cache directory exists from here on
        Thread.sleep(forTimeInterval: 2.5)
        let cache = runner.home + "/.cache/lpa-run"
        Self.removeRecords(cache)
        let log = f.base + "/strace.log"
        // Found through PATH, after a directory that lacks it: every lookup is a host fact.
        let command = runner.command(["--profile", f.profile, "true"])
        let traced = try Spawned([strace, "-qq", "-s", "4096", "-o", log,
                                  "-e", "trace=%file,readlink,readlinkat"] + command,
                                 environment: runner.environment(extra: ["PATH": f.data + "/deep:/usr/bin:/bin"]),
                                 cwd: Binaries.shared.directory)
        let (status, _, stderr) = traced.finish(seconds: 60)
        #expect(status == 0, "\(stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasPrefix("launch-") }
        try #require(names.count == 1, "the traced run wrote no record: \(stderr)")
        let manifest = Self.manifestPaths(try [UInt8](Data(contentsOf: URL(fileURLWithPath: cache + "/" + names[0]))))

        // Paths re-checked by other means on every launch, or not about the plan: procfs and
        // sysfs (the kernel is in the key; the socket tables are searched again), lpa-run's
        // own directory (the Swift runtime's probes), its cache directory and the links on
        // the way to it, /dev/null.
        let exemptTrees = ["/proc/", "/sys/", Binaries.shared.directory + "/", cache + "/"]
        var exempt: Set<String> = [cache, "/dev/null", "/", Binaries.shared.directory]
        var prefix = ""
        for component in cache.split(separator: "/") {
            prefix += "/" + component
            exempt.insert(prefix)
        }
        var missing: [String] = []
        var seen = Set<String>()
        var started = false
        let text = try String(contentsOfFile: log, encoding: .utf8)
        for line in text.split(separator: "\n") {
            // setpriv's own lookups come before it executes lpa-run.
            if line.hasPrefix("execve(") { started = started || line.hasPrefix("execve(\"\(Binaries.shared.lpaRun)\""); continue }
            guard started else { continue }
            if line.hasPrefix("clone(") || line.hasPrefix("clone3(") { break }   // the sandbox starts
            // Only paths looked up from the working directory or "/": *at calls on another
            // descriptor are the walks of lpa_open_trusted_path and the cache directory's.
            guard let open = line.firstIndex(of: "("), !line.hasPrefix("getcwd") else { continue }
            let arguments = line[line.index(after: open)...]
            let fromCwd = !arguments.first!.isNumber
            guard fromCwd, let quote = arguments.firstIndex(of: "\"") else { continue }
            let rest = arguments[arguments.index(after: quote)...]
            guard let end = rest.firstIndex(of: "\"") else { continue }
            var path = String(rest[..<end])
            if path.isEmpty || exempt.contains(path) || exemptTrees.contains(where: { path.hasPrefix($0) }) { continue }
            if !path.hasPrefix("/") { path = Binaries.shared.directory + "/" + path }
            if !manifest.contains(path) && !seen.contains(path) {
                seen.insert(path)
                missing.append(String(line))
            }
        }
        #expect(missing.isEmpty, "consulted but not in the manifest: \(missing)")
    }
}
