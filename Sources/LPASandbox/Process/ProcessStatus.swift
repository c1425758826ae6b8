#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy

/// Waiting for a child and turning its wait status into the status lpa-run reports,
/// as shells do: the child's exit code, or 128+N when signal N killed it.
enum ProcessStatus {
    /// Decodes a waitpid(2) status word (WIFEXITED/WEXITSTATUS/WTERMSIG by hand:
    /// Swift cannot import those macros).
    static func exitCode(fromWaitStatus raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }

    /// Waits for `pid`, retrying EINTR; 125 when it cannot be waited for.
    static func wait(for pid: pid_t) -> Int32 {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 {
            if errno != EINTR { return LPAExitCode.ownError }
        }
        return exitCode(fromWaitStatus: raw)
    }
}
