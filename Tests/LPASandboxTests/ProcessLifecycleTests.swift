import Foundation
import Testing

/// Exit status, signals and the lifetime of the sandbox.
@Suite("process lifecycle", .serialized)
struct ProcessLifecycleTests {
    @Test("the workload's exit status is lpa-run's", arguments: Runner.all)
    func exitStatusPropagates(runner: Runner) throws {
        #expect(try runner.probe(["exit", "0"]).status == 0)
        #expect(try runner.probe(["exit", "3"]).status == 3)
    }

    @Test("a workload killed by signal N gives 128+N", arguments: Runner.all)
    func signalDeathPropagates(runner: Runner) throws {
        #expect(try runner.probe(["kill-self", "9"]).status == 137)
        #expect(try runner.probe(["kill-self", "15"]).status == 143)
    }

    @Test("a process the workload left running is dead when lpa-run returns; exit statuses 0-255 and signals carry over",
          arguments: Runner.all)
    func nothingOutlivesTheRun(runner: Runner) throws {
        // lpa-run waits for the init, whose exit kills what is left of the pid namespace:
        // no process of the sandbox may still run (and write) once lpa-run has returned.
        let shared = try PolicySafetyTests.workspace("outlive", runner)
        chmod(shared, 0o777)  // the workload runs as the sandbox user (nobody, for a root caller)
        let left = try runner.run(["--profile", "strict", "--rw", shared, "/bin/sh", "-c",
                                   "(sleep 0.5; echo late > \(shared)/late) & echo started > \(shared)/started; exit 7"])
        #expect(left.status == 7, "\(left.stderr)")
        #expect(FileManager.default.fileExists(atPath: shared + "/started"))
        Thread.sleep(forTimeInterval: 1.0)
        #expect(!FileManager.default.fileExists(atPath: shared + "/late"), "a background process outlived lpa-run")
        for code in [0, 1, 42, 125, 255] {
            let result = try runner.run(["--profile", "strict", "/bin/sh", "-c", "exit \(code)"])
            #expect(result.status == Int32(code), "exit \(code): \(result.status) \(result.stderr)")
        }
        #expect(try runner.run(["--profile", "strict", "/bin/sh", "-c", "kill -TERM $$"]).status == 143)
    }

    @Test("a missing command exits 127 and a non-executable one 126", arguments: Runner.all)
    func notFoundAndNotExecutable(runner: Runner) throws {
        let missing = try runner.run(["--profile", "strict", "lpa-no-such-command-\(getpid())"])
        #expect(missing.status == 127)
        #expect(missing.stderr.contains("command not found"))
        // A script without the execute bit (0644): 126 must come from lpa-run's own
        // check, not from the kernel inside the sandbox (ENOEXEC of a non-script file).
        let script = Binaries.shared.directory + "/not-executable.sh"
        _ = FileManager.default.createFile(atPath: script, contents: Data("#!/bin/sh\nexit 0\n".utf8))
        chmod(script, 0o644)
        let notExec = try runner.run(["--profile", "strict", script])
        #expect(notExec.status == 126)
        #expect(notExec.stderr.contains("not an executable file"), "\(notExec.stderr)")
    }

    static let forwardedSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]

    @Test("each forwarded signal sent to lpa-run reaches the workload, which exits cleanly", arguments: Runner.all)
    func signalsForwarded(runner: Runner) throws {
        for signal in Self.forwardedSignals {
            let running = try RunningSandbox(runner: runner, probe: ["wait-signal"])
            try running.waitForLine("ready")
            kill(running.pid, signal)
            let (status, output) = running.finish(seconds: 15)
            #expect(output.contains("got-signal \(signal)"), "signal \(signal): \(output)")
            #expect(status == 0, "signal \(signal): \(output)")
            if status != 0 { break }  // one failure says it; do not wait out the others
        }
    }

    /// The workload itself, once it runs (after execve): the descendant of lpa-run named `name`.
    static func workload(of pid: pid_t, named name: String, seconds: Double = 30) -> pid_t? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            for child in ProcessTree.descendants(of: pid) {
                let comm = (try? String(contentsOfFile: "/proc/\(child)/comm", encoding: .utf8)) ?? ""
                if comm.trimmingCharacters(in: .whitespacesAndNewlines) == name { return child }
            }
            usleep(20_000)
        }
        Issue.record("no descendant of \(pid) named \(name) within \(seconds) s")
        return nil
    }

    @Test("SIGTERM to lpa-run kills a workload that does not catch it: exit 143", arguments: Runner.all)
    func sigtermEndsAnUncatchingWorkload(runner: Runner) throws {
        let running = try RunningSandbox(runner: runner, arguments: ["--profile", "strict", "/bin/sleep", "600"])
        try #require(Self.workload(of: running.pid, named: "sleep") != nil)
        kill(running.pid, SIGTERM)
        let (status, output) = running.finish()
        // lpa-run itself survives the signal (it forwards it) and reports the workload's death.
        #expect(status == 143 && running.killedBy == nil, "\(output)")
    }

    @Test("SIGKILL of lpa-run leaves no process behind", arguments: Runner.all)
    func sigkillTakesSandboxDown(runner: Runner) throws {
        let running = try RunningSandbox(runner: runner, probe: ["wait-signal"])
        try running.waitForLine("ready")
        let descendants = ProcessTree.descendants(of: running.pid)
        #expect(descendants.count >= 2, "init and workload expected, found \(descendants)")
        // setpriv execs lpa-run, so running.pid is lpa-run itself in both cases.
        kill(running.pid, SIGKILL)
        _ = running.finish()
        let deadline = Date().addingTimeInterval(5)
        var alive = descendants
        while !alive.isEmpty && Date() < deadline {
            alive = alive.filter { ProcessTree.isAlive($0) }
            if !alive.isEmpty { usleep(20_000) }
        }
        #expect(alive.isEmpty, "still alive: \(alive)")
    }
}

/// A bad profile or a plan the kernel cannot apply: exit 125, and nothing ran.
@Suite("fail closed", .serialized)
struct FailClosedTests {
    @Test("a missing bind source stops the run with 125, naming the profile line", arguments: Runner.all)
    func missingBindSource(runner: Runner) throws {
        let profile = Binaries.shared.profile(named: "missing-bind", """
            description: binds a path that does not exist
            extends: strict
            filesystem:
              read-only: [/nonexistent-lpa-source]
            """)
        let result = try runner.run(["--profile", profile, "/bin/echo", "RAN"])
        #expect(result.status == 125)
        #expect(!result.stdout.contains("RAN"))
        #expect(result.stderr.contains("/nonexistent-lpa-source"))
        #expect(result.stderr.contains("missing-bind.yaml:4"), "\(result.stderr)")
        #expect(result.stderr.contains("ENOENT"))
    }

    @Test("an optional missing bind source is skipped", arguments: Runner.all)
    func optionalBindSource(runner: Runner) throws {
        let profile = Binaries.shared.profile(named: "optional-bind", """
            description: binds an optional path that does not exist
            extends: strict
            filesystem:
              read-only: [{path: /nonexistent-lpa-source, optional: true}]
            """)
        let result = try runner.run(["--profile", profile, "/bin/echo", "RAN"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "RAN\n")
    }

    @Test("a profile error stops the run with 125 before anything runs", arguments: Runner.all)
    func badProfile(runner: Runner) throws {
        let profile = Binaries.shared.profile(named: "typo", """
            description: misspelled key
            extends: strict
            netwrok:
              mode: none
            """)
        let result = try runner.run(["--profile", profile, "/bin/echo", "RAN"])
        #expect(result.status == 125)
        #expect(!result.stdout.contains("RAN"))
        #expect(result.stderr.contains("typo.yaml:3:1: error: unknown key 'netwrok' (did you mean 'network'?)"),
                "\(result.stderr)")
    }
}
