import Foundation

/// A child process (lpa-run, or a server on the host) whose stdout and stderr go to
/// unlinked temporary files: nothing blocks on a full pipe, no output lands where a
/// canary scan looks, and every wait has a deadline.
final class BackgroundProcess {
    let pid: pid_t
    let name: String
    private let output: Int32
    private let errors: Int32
    private var exitStatus: Int32?

    var stdout: String { Self.contents(output) }
    var stderr: String { Self.contents(errors) }

    /// Whether it has not exited yet (it is reaped here once it has).
    var isRunning: Bool {
        if exitStatus != nil { return false }
        var raw: Int32 = 0
        let rc = waitpid(pid, &raw, WNOHANG)
        guard rc == pid else { return rc == 0 }
        let signal = raw & 0x7f
        exitStatus = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
        return false
    }

    /// The exit status, 128+N for a signal; only once the process has exited.
    var status: Int32 { exitStatus ?? -1 }

    /// Started as a shell starts a command (ShellSpawn: empty signal mask).
    init(_ argv: [String], name: String, environment: [String: String]? = nil, cwd: String? = nil) throws {
        self.name = name
        output = try Self.unlinkedFile()
        errors = try Self.unlinkedFile()
        pid = try ShellSpawn.spawn(argv, environment: environment ?? ProcessInfo.processInfo.environment,
                                   cwd: cwd ?? Binaries.shared.directory, stdout: output, stderr: errors)
    }

    /// Blocks until it has exited.
    private func reap() {
        while isRunning { usleep(10_000) }
    }

    /// lpa-run ARGUMENTS as `runner`, in the background.
    /// `prefix` runs before it (`prlimit --nofile=N:N --`: a lower descriptor limit).
    convenience init(runner: Runner, arguments: [String], environment extra: [String: String] = [:],
                     cwd: String? = nil, prefix: [String] = []) throws {
        try self.init(prefix + runner.command(arguments), name: "lpa-run", environment: runner.environment(extra: extra), cwd: cwd)
    }

    /// Waits until stdout has a line for which `matches` holds and returns it; throws
    /// naming `what` when the process exits first or the deadline passes.
    @discardableResult
    func waitForLine(_ what: String, before deadline: Deadline, where matches: (Substring) -> Bool) throws -> String {
        var found: Substring?
        try deadline.poll(for: "\(name) to print \(what); stdout: \(stdout.suffix(400)) stderr: \(stderr.suffix(400))") {
            found = stdout.split(separator: "\n").first(where: matches)
            if found == nil && !isRunning {
                // Output written just before exit is complete once it has exited.
                found = stdout.split(separator: "\n").first(where: matches)
                if found == nil {
                    throw TestFailure("\(name) exited with \(status) before printing \(what); stdout: \(stdout.suffix(400)) stderr: \(stderr.suffix(800))")
                }
            }
            return found != nil
        }
        return String(found ?? "")
    }

    func waitForLine(_ line: String, within seconds: Double = 30) throws {
        try waitForLine("\"\(line)\"", before: Deadline(seconds: seconds)) { $0 == line }
    }

    /// The exit status; throws naming `what` (and kills the process) when it has not
    /// exited by the deadline.
    @discardableResult
    func waitForExit(_ what: String, within seconds: Double) throws -> Int32 {
        do {
            try Deadline(seconds: seconds).poll(for: "\(name) (pid \(pid)) to exit \(what)") { !isRunning }
        } catch {
            kill(pid, SIGKILL)
            reap()
            throw error
        }
        return status
    }

    /// SIGTERM, a few seconds' grace, then SIGKILL: for `defer`, so nothing outlives
    /// its test whatever failed.
    func terminate() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        _ = try? waitForExit("after SIGTERM", within: 10)  // kills it when it does not exit
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            reap()
        }
        close(output)
        close(errors)
    }

    /// An open file with no name: what the child writes is readable here and nowhere else.
    private static func unlinkedFile() throws -> Int32 {
        let path = NSTemporaryDirectory() + "/lpa-tests-output-\(UUID().uuidString)"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TestFailure("open \(path): \(describeErrno(errno))") }
        unlink(path)
        return fd
    }

    private static func contents(_ fd: Int32) -> String {
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let n = pread(fd, &chunk, chunk.count, offset)
            if n <= 0 { break }
            data.append(contentsOf: chunk[0..<n])
            offset += off_t(n)
        }
        return String(decoding: data, as: UTF8.self)
    }
}

extension Runner {
    /// lpa-run ARGUMENTS to the end, within `seconds`.
    func run(_ arguments: [String], environment extra: [String: String] = [:], cwd: String? = nil,
             within seconds: Double) throws -> Result {
        let lpaRun = try BackgroundProcess(runner: self, arguments: arguments, environment: extra, cwd: cwd)
        let status = try lpaRun.waitForExit("running \(arguments.joined(separator: " "))", within: seconds)
        return Result(status: status, stdout: lpaRun.stdout, stderr: lpaRun.stderr)
    }

    /// `/bin/sh -c SCRIPT sh ARGS...` under `profile`, to the end; the script sees the
    /// probe as "$1" when the profile makes it visible (`probeVisible`).
    func shell(_ script: String, _ arguments: [String] = [], profile: String = "strict", options: [String] = [],
               environment: [String: String] = [:], within seconds: Double = 60) throws -> Result {
        try run(["--profile", profile] + options + ["/bin/sh", "-c", script, "sh"] + arguments,
                environment: environment, within: seconds)
    }

    /// The uid this runner's sandboxes run as on the host.
    var uid: uid_t { sandboxUid }
}

/// A profile like strict in which the probe is visible, for `/bin/sh` workloads that
/// start it (lpa-run only binds the executable it starts itself).
func probeVisibleProfile() -> String {
    Binaries.shared.profile(named: "strict-with-probe", """
        description: strict, with the probe readable for shell workloads
        extends: strict
        filesystem:
          read-only: [\(Binaries.shared.probe)]
        """)
}

/// lpa-run publishing one host port, running in the background.
///
/// The host port is never checked first and used later: lpa-run itself binds a
/// candidate port, and when another program took it meanwhile (lpa-run exits 125
/// naming EADDRINUSE) the sandbox starts again on another candidate. So suites that
/// run in parallel never share a port.
final class PublishedSandbox {
    enum Readiness {
        /// The workload printed this line (it listens inside).
        case line(String)
        /// GET path answers 200 through the published port.
        case http(path: String)
    }

    let port: UInt16
    let address: LoopbackAddress
    let lpaRun: BackgroundProcess
    var pid: pid_t { lpaRun.pid }

    /// Starts lpa-run with `arguments(port)` and waits until `ready`. `nextPort` offers
    /// the candidates (by default a port free a moment ago).
    init(runner: Runner, address: LoopbackAddress = .v4, ready: Readiness, within seconds: Double = 30,
         environment: [String: String] = [:], prefix: [String] = [], nextPort: (() throws -> UInt16)? = nil,
         _ arguments: (UInt16) -> [String]) throws {
        var attempts = 0
        while true {
            attempts += 1
            let port = try nextPort?() ?? LoopbackHTTP.candidatePort(address)
            let lpaRun = try BackgroundProcess(runner: runner, arguments: arguments(port), environment: environment,
                                               prefix: prefix)
            do {
                switch ready {
                case .line(let line):
                    try lpaRun.waitForLine(line, within: seconds)
                case .http(let path):
                    try LoopbackHTTP.waitUntilReady(port: port, path: path, within: seconds, server: "the sandbox",
                                                    stillRunning: { lpaRun.isRunning })
                }
                self.port = port
                self.address = address
                self.lpaRun = lpaRun
                return
            } catch {
                lpaRun.terminate()
                guard !lpaRun.isRunning, lpaRun.status == 125, lpaRun.stderr.contains("EADDRINUSE"), attempts < 8 else {
                    throw error
                }
            }
        }
    }

    /// lpa-run --profile PROFILE OPTIONS -p ADDRESS:PORT:SANDBOXPORT lpa-probe PROBE
    convenience init(runner: Runner, address: LoopbackAddress = .v4, probe: [String], sandboxPort: UInt16,
                     profile: String = "strict", options: [String] = [], ready: String) throws {
        try self.init(runner: runner, address: address, ready: .line(ready)) { port in
            ["--profile", profile] + options + ["-p", "\(address.publishSpelling):\(port):\(sandboxPort)",
                                                Binaries.shared.probe] + probe
        }
    }

    /// A connection to the published port.
    func connect() throws -> Int32 {
        do { return try LoopbackHTTP.connect(port: port, address: address) } catch { throw explained(error) }
    }

    /// Sends a payload through the published port to an echo server inside,
    /// half-closes, and expects the payload back complete, then end of stream.
    func expectEcho(_ label: String, within seconds: Double = 10) throws {
        let payload = Array("\(label) ".utf8) + [UInt8](repeating: 0x5a, count: 1000)
        let echoed: [UInt8]
        do {
            echoed = try LoopbackHTTP.roundTrip(port: port, address: address, payload, before: Deadline(seconds: seconds))
        } catch {
            throw explained(error)
        }
        guard echoed == payload else {
            throw TestFailure("\(label): \(echoed.count) bytes came back instead of the \(payload.count) sent")
        }
    }

    /// `error`, plus lpa-run's exit status and stderr when it is no longer running.
    func explained(_ error: any Error) -> any Error {
        if lpaRun.isRunning { return error }
        return TestFailure("\(error); lpa-run had exited with \(lpaRun.status): \(lpaRun.stderr.suffix(800))")
    }

    /// SIGTERM (lpa-run forwards it to the workload), then the exit status.
    func stop(within seconds: Double = 30) throws -> Int32 {
        kill(pid, SIGTERM)
        return try lpaRun.waitForExit("after SIGTERM", within: seconds)
    }

    func terminate() { lpaRun.terminate() }
}

/// llama-server started on the host's loopback (for --connect), on a candidate port,
/// started again on another one when it says it could not bind (the port was taken).
final class HostServer {
    let port: UInt16
    let server: BackgroundProcess

    init(name: String, readyPath: String = "/health", within seconds: Double = 120,
         _ argv: (UInt16) -> [String]) throws {
        var attempts = 0
        while true {
            attempts += 1
            let port = try LoopbackHTTP.candidatePort()
            let server = try BackgroundProcess(argv(port), name: name)
            do {
                try LoopbackHTTP.waitUntilReady(port: port, path: readyPath, within: seconds, server: name,
                                                stillRunning: { server.isRunning })
                // A server that lost the port exits at once; a 200 with ours still running is ours.
                guard server.isRunning else { throw TestFailure("\(name) exited: \(server.stderr.suffix(800))") }
                self.port = port
                self.server = server
                return
            } catch {
                let lostThePort = !server.isRunning && server.stderr.contains("couldn't bind")
                if server.isRunning { kill(server.pid, SIGKILL) }
                _ = try? server.waitForExit("after SIGKILL", within: 10)
                if !lostThePort || attempts >= 8 { throw error }
            }
        }
    }

    /// SIGKILL: Foundation starts children with the test runner's blocked signals, so
    /// a SIGTERM may never arrive.
    func terminate() {
        guard server.isRunning else { return }
        kill(server.pid, SIGKILL)
        _ = try? server.waitForExit("after SIGKILL", within: 10)
    }
}
