import Foundation
import Testing

/// scripts/soak.py, copied next to the test binaries where every runner and the
/// sandbox (through a read-only bind) can read it. The same script, at a larger scale,
/// is `make soak`.
enum SoakScript {
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/soak.py").path

    static func installed() throws -> String {
        let path = Binaries.shared.directory + "/soak.py"
        if !FileManager.default.fileExists(atPath: path) {
            let text = try String(contentsOfFile: source, encoding: .utf8)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o644)
        }
        return path
    }

    /// Its JSON lines for `key` ({"audit": ...}) in `output`, oldest first.
    static func lines(_ key: String, in output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{"), let data = line.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            return object[key] as? [String: Any]
        }
    }
}

private func number(_ object: [String: Any]?, _ path: String...) -> Double {
    var current: Any? = object
    for key in path { current = (current as? [String: Any])?[key] }
    return (current as? NSNumber)?.doubleValue ?? .nan
}

private func residentKiB(_ pid: pid_t) throws -> Int {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else {
        throw TestFailure("no VmRSS in /proc/\(pid)/status")
    }
    return kib
}

/// The relay under abuse (issue 17, docs/RELIABILITY.md): floods, slow clients, resets,
/// silent connections, more connections than lpa-run has descriptors; and the limits
/// of `network: {max-connections, idle-timeout}`.
@Suite("relay abuse", .serialized)
struct RelayAbuseTests {
    @Test("the profile's max-connections refuses the next client at once; idle-timeout frees silent connections",
          arguments: Runner.all)
    func profileLimits(runner: Runner) throws {
        let profile = Binaries.shared.profile(named: "relay-limits", """
            extends: strict
            network:
              max-connections: 4
              idle-timeout: 1500ms
            """)
        let sandbox = try PublishedSandbox(runner: runner, probe: ["echo-server", "9000"], sandboxPort: 9000,
                                           profile: profile, ready: "listening")
        defer { sandbox.terminate() }
        try sandbox.expectEcho("before")
        // Four silent clients take every slot (each relayed: a byte echoed).
        var held: [Int32] = []
        defer { held.forEach { close($0) } }
        for i in 0..<4 {
            let fd = try sandbox.connect()
            held.append(fd)
            try LoopbackHTTP.sendAll(fd, [0x68])
            _ = try LoopbackHTTP.read(fd, count: 1, before: Deadline(seconds: 10), waitingFor: "the echo on held \(i)")
        }
        // The fifth is accepted and closed at once, not hung.
        let fifth = try sandbox.connect()
        defer { close(fifth) }
        let refused = try LoopbackHTTP.readToEOF(fifth, before: Deadline(seconds: 3), waitingFor: "the fifth client to be closed",
                                                 resetEnds: true)
        #expect(refused.isEmpty)
        // Silent for 1.5 s: the relay closes them (end of stream), and a client is served again.
        for (i, fd) in held.enumerated() {
            _ = try LoopbackHTTP.readToEOF(fd, before: Deadline(seconds: 10), waitingFor: "held \(i) to be closed as idle",
                                           resetEnds: true)
        }
        try sandbox.expectEcho("after the idle timeout")
    }

    @Test("a connection that keeps moving bytes outlives the idle timeout", arguments: Runner.all)
    func activeConnectionIsNotIdle(runner: Runner) throws {
        let profile = Binaries.shared.profile(named: "relay-idle-1s", """
            extends: strict
            network:
              idle-timeout: 1s
            """)
        let sandbox = try PublishedSandbox(runner: runner, probe: ["echo-server", "9000"], sandboxPort: 9000,
                                           profile: profile, ready: "listening")
        defer { sandbox.terminate() }
        let fd = try sandbox.connect()
        defer { close(fd) }
        // A byte every 400 ms for 3 s: three idle timeouts long, never idle for one.
        for i in 0..<8 {
            try LoopbackHTTP.sendAll(fd, [UInt8(0x30 + i)])
            let echoed = try LoopbackHTTP.read(fd, count: 1, before: Deadline(seconds: 5), waitingFor: "byte \(i)")
            #expect(echoed == [UInt8(0x30 + i)])
            usleep(400_000)
        }
    }

    /// The whole abuse at test scale, under a descriptor limit of 256 (prlimit on the
    /// running lpa-run): 10,000 connections (a third closed with a FIN, two thirds
    /// reset, half of those after a 64 KiB request), 20 slowloris clients for 4 s, 300
    /// silent connections (over the cap of 64 and over the descriptors), 50 connections
    /// of a SIGKILLed process; at the same time, from inside, 2,000 connections and 150
    /// silent ones on a --connect endpoint; and a workload timing blocked connects
    /// (each a notification the audit thread answers) throughout.
    @Test("under floods, slowloris, resets, silent and vanished clients and fd exhaustion lpa-run keeps serving, answers audits, and returns to its baseline",
          arguments: Runner.all)
    func abuse(runner: Runner) throws {
        let script = try SoakScript.installed()
        let profile = Binaries.shared.profile(named: "relay-abuse", """
            extends: strict
            network:
              max-connections: 64
              idle-timeout: 2s
            filesystem:
              read-only: [\(script)]
            """)
        let echo = try BackgroundProcess(["/usr/bin/python3", script, "echo-server"], name: "host echo server")
        defer { kill(echo.pid, SIGKILL); _ = try? echo.waitForExit("after SIGKILL", within: 10) }
        let listening = try echo.waitForLine("its port", before: Deadline(seconds: 20)) { $0.hasPrefix("listening ") }
        guard let hostPort = UInt16(listening.split(separator: " ").last ?? "") else {
            throw TestFailure("echo server said \(listening)")
        }
        // A descriptor limit of 256 (soft and hard: lpa-run cannot lift it), set by
        // prlimit(1) before lpa-run starts: the abuse takes more than that.
        let sandbox = try PublishedSandbox(runner: runner, ready: .line("listening"),
                                           prefix: ["/usr/bin/prlimit", "--nofile=256:256", "--"]) { port in
            ["--profile", profile, "-p", "127.0.0.1:\(port):9000", "--connect", "127.0.0.1:\(hostPort):9100",
             "/usr/bin/python3", script, "workload", "--port", "9000", "--connect-port", "9100",
             "--connect-connections", "2000", "--connect-silent", "150", "--idle-ms", "2000"]
        }
        defer { sandbox.terminate() }
        try Deadline(seconds: 10).poll(for: "the workload's first audit line") {
            !SoakScript.lines("audit", in: sandbox.lpaRun.stdout).isEmpty
        }
        let quiet = SoakScript.lines("audit", in: sandbox.lpaRun.stdout).last

        let abuse = try BackgroundProcess(
            ["/usr/bin/python3", script, "abuse", "--port", String(sandbox.port), "--pid", String(sandbox.pid),
             "--connections", "10000", "--slow-clients", "20", "--slow-seconds", "4",
             "--silent", "300", "--vanish", "50", "--idle-ms", "2000", "--trigger"], name: "abuse")
        let status = try abuse.waitForExit("abusing the published port", within: 240)
        guard status == 0, let data = abuse.stdout.split(separator: "\n").last.flatMap({ $0.data(using: .utf8) }),
              let report = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw sandbox.explained(TestFailure("the abuse client exited \(status): \(abuse.stderr.suffix(1500))"))
        }
        #expect(number(report, "nofile") == 256)
        let phases = report["phases"] as? [String: Any]
        #expect(number(phases, "sequential", "connections") == 10000, "\(report)")
        // Well-behaved clients were served during and after every abuse.
        #expect(number(report, "good", "failed") == 0, "\(report["good"] ?? "")")
        #expect(number(report, "good", "served") >= 100, "\(report["good"] ?? "")")
        // Slow clients are not idle: none was cut, each got every byte back.
        #expect(number(phases, "slowloris", "cut") == 0 && number(phases, "slowloris", "short") == 0, "\(phases?["slowloris"] ?? "")")
        // Silent connections the relay had accepted were closed by the idle timeout.
        #expect(number(phases, "silent", "closed_by_idle_timeout") >= 20, "\(phases?["silent"] ?? "")")
        // The endpoint abuse from inside, at the same time.
        try Deadline(seconds: 60).poll(for: "the workload's endpoint abuse to end; stdout: \(sandbox.lpaRun.stdout.suffix(600))") {
            !SoakScript.lines("connect", in: sandbox.lpaRun.stdout).isEmpty
        }
        let endpoint = SoakScript.lines("connect", in: sandbox.lpaRun.stdout).last
        #expect(endpoint?["error"] == nil, "\(endpoint ?? [:])")
        #expect(number(endpoint, "sequential", "connections") == 2000, "\(endpoint ?? [:])")
        #expect(number(endpoint, "good", "failed") == 0, "\(endpoint ?? [:])")
        #expect(number(endpoint, "silent", "closed_by_idle_timeout") >= 20, "\(endpoint ?? [:])")

        // lpa-run is alive, serving, and back to its baseline.
        try sandbox.expectEcho("after the abuse")
        let before = report["before"] as? [String: Any]
        let baselineFds = Int(number(before, "fds"))
        var fds = 0
        try Deadline(seconds: 15).poll(for: "lpa-run's descriptors to return within \(baselineFds) + \(descriptorSlack) (now \(fds))") {
            fds = try openDescriptors(of: sandbox)
            return fds <= baselineFds + descriptorSlack
        }
        let baselineRSS = Int(number(before, "rss_kib"))
        let rss = try residentKiB(sandbox.pid)
        #expect(rss <= baselineRSS + 8192, "lpa-run's RSS grew from \(baselineRSS) KiB to \(rss) KiB")

        // Audited calls were answered throughout, none slowly.
        let audit = SoakScript.lines("audit", in: sandbox.lpaRun.stdout).last
        #expect(number(audit, "unexpected") == 0, "\(audit ?? [:])")
        #expect(number(audit, "count") - number(quiet, "count") >= 100, "audit answers during the abuse: \(audit ?? [:])")
        #expect(number(audit, "worst_ms") < 1000, "worst audit answer: \(audit ?? [:])")
        print("relay abuse (\(runner)): \(report) endpoint \(endpoint ?? [:]) audit \(audit ?? [:]) fds \(fds) rss \(rss)")
    }
}
