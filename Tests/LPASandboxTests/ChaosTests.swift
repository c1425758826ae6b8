import Foundation
import Testing

/// Killed launches (scripts/chaos.py, docs/RELIABILITY.md): lpa-run, its init or the
/// workload SIGKILLed at random points between exec and the workload's first output,
/// and SIGTERM/SIGINT sent to lpa-run, with a published port, a host endpoint and an
/// audit log. The driver is a child subreaper, so every orphan of a run comes back to
/// it: nothing may be left (process, bound listener, host mount, file outside the audit
/// log), no run may hang, a stopping signal ends the run with 128+N, and the next run
/// works. `make chaos` runs more iterations.
@Suite("chaos: killed launches", .serialized)
struct ChaosTests {
    /// 300 runs: 200 SIGKILLs and 100 SIGTERM/SIGINT, per user.
    static let iterations = 300

    @Test("SIGKILL, SIGTERM and SIGINT at random points leave nothing behind", arguments: Runner.all)
    func killedLaunches(runner: Runner) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/chaos.py").path
        let workdir = Binaries.shared.scratch + "/chaos-\(runner.who.rawValue)"
        try? FileManager.default.removeItem(atPath: workdir)
        try FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o777])
        // A home of its own: the runners' shared homes see other suites' files come and go.
        let home = workdir + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o777])
        let python = ["/usr/bin/python3", script, Binaries.shared.lpaRun, "\(Self.iterations)", "\(getpid())", workdir]
        let argv = runner.who == .nobody
            ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + python : python
        let child = try Spawned(argv, environment: runner.environment(extra: ["HOME": home]), cwd: workdir)
        let (status, stdout, stderr) = child.finish(seconds: 900)
        let figures = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any],
                                   "chaos.py printed no figures: \(stdout) \(stderr)")
        print("chaos \(runner.who.rawValue): \(stdout)")
        #expect(status == 0, "\(figures["problems"] ?? [])")
        let killed = (figures["killed"] as? [String: Int] ?? [:]).values.reduce(0, +)
        #expect(killed >= 200, "too few kills: \(killed)")
        for key in ["leftover_processes", "hangs", "bound_listeners", "leaked_mounts", "stray_files", "bad_status",
                    "next_run_failures"] {
            #expect(figures[key] as? Int == 0, "\(key): \(figures["problems"] ?? [])")
        }
    }
}
