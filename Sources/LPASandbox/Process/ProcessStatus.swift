#if canImport(Glibc)
import Glibc
#endif
import CLaunch
import LPAPolicy

/// Waiting for a child and turning its wait status into the status lpa-run reports,
/// as shells do: the child's exit code, or 128+N when signal N killed it.
enum ProcessStatus {
    /// Waits for `pid`, retrying EINTR; 125 when it cannot be waited for.
    static func wait(for pid: pid_t) -> Int32 {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 {
            if errno != EINTR { return LPAExitCode.ownError }
        }
        return lpa_exit_code(raw)  // the executor's decoding (launch.c)
    }
}
