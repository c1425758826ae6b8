#if canImport(Glibc)
import Glibc
#endif
import CShims
import LPAPolicy

/// Runs a program to completion with posix_spawn and captures its stdout and stderr:
/// `probe` and `doctor` start sandboxes by running lpa-run itself this way, so each
/// sandbox is exactly what a user's `lpa-run --profile P COMMAND` would build.
public struct CapturedProcess: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    /// "name value" lines (lpa-probe's output format).
    public var fields: [String: String] {
        var result: [String: String] = [:]
        for line in stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return result
    }

    /// Spawns `argv` (argv[0] is an absolute path) with `environment`, stdin on /dev/null,
    /// and waits at most `timeout` seconds before killing it (status 128+SIGKILL then).
    /// Descriptors without CLOEXEC are inherited, as with any spawn.
    public static func run(_ argv: [String], environment: [String: String], timeout: Int32 = 60) -> CapturedProcess {
        let arena = CStringArena()
        let args = arena.stringArray(argv)
        let envp = arena.stringArray(environment.map { "\($0.key)=\($0.value)" }.sorted())
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard lpa_pipe_cloexec(&outPipe) == 0, lpa_pipe_cloexec(&errPipe) == 0 else {
            return CapturedProcess(status: LPAExitCode.ownError, stdout: "", stderr: "pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, args, envp)
        withExtendedLifetime(arena) {}
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            return CapturedProcess(status: LPAExitCode.ownError, stdout: "", stderr: "posix_spawn \(argv[0]): \(String(cString: strerror(rc)))")
        }
        var out: [UInt8] = [], err: [UInt8] = []
        var open = [outPipe[0], errPipe[0]]
        let deadline = time(nil) + Int(timeout)
        var killed = false
        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let n = poll(&fds, nfds_t(fds.count), 1000)
            if n < 0 && errno == EINTR { continue }
            if time(nil) > deadline && !killed {
                kill(pid, SIGKILL)
                killed = true
            }
            for p in fds where p.revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 65536)
                let got = read(p.fd, &buffer, buffer.count)
                if got > 0 {
                    if p.fd == outPipe[0] { out += buffer[..<got] } else { err += buffer[..<got] }
                } else if got == 0 || errno != EINTR {
                    close(p.fd)
                    open.removeAll { $0 == p.fd }
                }
            }
        }
        let status = ProcessStatus.wait(for: pid)
        return CapturedProcess(status: status, stdout: String(decoding: out, as: UTF8.self),
                               stderr: String(decoding: err, as: UTF8.self))
    }

    /// The running program (`/proc/self/exe` resolved), so it can start itself.
    public static func selfExecutable() -> String? {
        FilePaths.readLink("/proc/self/exe")
    }
}
