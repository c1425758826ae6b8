import CShims
import Foundation
import Testing

/// A child started the way a user's shell starts lpa-run: empty signal mask, default
/// signal dispositions (the test process blocks signals for its own threads, and a
/// blocked SIGTERM would hide a forwarding bug as a hang), stdin on /dev/null, stdout
/// and stderr on close-on-exec pipes read together (no deadlock on a full pipe), and
/// every wait with a deadline that fails the test naming what it waited for.
final class Spawned: @unchecked Sendable {
    let pid: pid_t
    let what: String
    private var out: Int32
    private var err: Int32
    private(set) var stdout = Data()
    private(set) var stderr = Data()
    private var exitStatus: Int32?
    /// The signal that killed the child, nil when it exited by itself (exit(2)).
    private(set) var killedBy: Int32?

    init(_ argv: [String], environment: [String: String], cwd: String) throws {
        what = argv.joined(separator: " ")
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        // Close-on-exec: tests run in parallel, and a write end inherited by another child
        // would keep this pipe from ever reaching EOF.
        guard lpa_pipe_cloexec(&outPipe) == 0, lpa_pipe_cloexec(&errPipe) == 0 else { throw POSIXError(.EMFILE) }
        let spawned: pid_t
        do {
            spawned = try ShellSpawn.spawn(argv, environment: environment, cwd: cwd,
                                           stdout: outPipe[1], stderr: errPipe[1])
        } catch {
            for fd in outPipe + errPipe { close(fd) }
            throw error
        }
        close(outPipe[1])
        close(errPipe[1])
        self.pid = spawned
        out = outPipe[0]
        err = errPipe[0]
    }

    /// Reads what is available for up to `milliseconds`; false once both pipes are closed.
    @discardableResult
    func pump(milliseconds: Int32) -> Bool {
        var fds = [out, err].filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        guard !fds.isEmpty else { return false }
        guard poll(&fds, nfds_t(fds.count), milliseconds) > 0 else { return true }
        for p in fds where p.revents != 0 {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = read(p.fd, &chunk, chunk.count)
            if n > 0 {
                if p.fd == out { stdout.append(contentsOf: chunk[0..<n]) } else { stderr.append(contentsOf: chunk[0..<n]) }
            } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                close(p.fd)
                if p.fd == out { out = -1 } else { err = -1 }
            }
        }
        return true
    }

    /// Waits until stdout holds `line` as a whole line; records an issue at the deadline.
    func waitForLine(_ line: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if String(decoding: stdout, as: UTF8.self).split(separator: "\n").contains(Substring(line)) { return true }
            if !pump(milliseconds: 100) && exited() { break }
        }
        if String(decoding: stdout, as: UTF8.self).split(separator: "\n").contains(Substring(line)) { return true }
        Issue.record("waited \(seconds) s for the line '\(line)' from \(what); stdout: \(text(stdout)) stderr: \(text(stderr))")
        return false
    }

    /// Whether the child has exited (reaped here).
    func exited() -> Bool {
        if exitStatus != nil { return true }
        var raw: Int32 = 0
        let rc = waitpid(pid, &raw, WNOHANG)
        if rc == pid {
            let signal = raw & 0x7f
            exitStatus = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
            killedBy = signal == 0 ? nil : signal
            return true
        }
        return rc < 0
    }

    /// Waits for exit and end of output. At the deadline the child is killed (SIGKILL),
    /// the test fails naming the command, and the status reads 137.
    func finish(seconds: Double) -> (status: Int32, stdout: String, stderr: String) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let open = pump(milliseconds: 50)
            if !open && exited() { break }
        }
        if !exited() {
            Issue.record("\(what) did not finish within \(seconds) s; killed. stdout: \(text(stdout)) stderr: \(text(stderr))")
            kill(pid, SIGKILL)
            while !exited() { usleep(10_000) }
        }
        // Output written just before exit (bounded: a killed sandbox may leave nothing to read).
        let drain = Date().addingTimeInterval(1)
        while (out >= 0 || err >= 0) && Date() < drain { pump(milliseconds: 50) }
        return (exitStatus ?? 125, text(stdout), text(stderr))
    }

    private func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    deinit {
        if !exited() {
            kill(pid, SIGKILL)
            while !exited() { usleep(10_000) }
        }
        if out >= 0 { close(out) }
        if err >= 0 { close(err) }
    }
}

/// posix_spawn as a shell starts a command: empty signal mask and default signal
/// dispositions (the test process blocks signals for its threads; Foundation's Process
/// passes that mask on, and a blocked SIGTERM turns a forwarding bug into a hang),
/// stdin on /dev/null, the given stdout and stderr, `cwd` through `env -C`.
enum ShellSpawn {
    static func spawn(_ argv: [String], environment: [String: String], cwd: String,
                      stdout: Int32, stderr: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        // env -C: the working directory of this child only (chdir is process-wide, and
        // posix_spawn_file_actions_addchdir_np is hidden from Swift); env execs, so the
        // pid is the command's.
        let cArgs = (["/usr/bin/env", "-C", cwd] + argv).map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        return pid
    }
}
