#if canImport(Glibc)
import Glibc
#endif
import CLaunch
import LPAPolicy

/// Why a plan could not be applied. The launcher never runs the workload with less
/// isolation than planned: every failure ends the run with `exitCode` (125 for
/// lpa-run's own errors, 126/127 for a command that cannot be executed / found).
public struct LaunchError: Error, CustomStringConvertible, Sendable {
    /// The step that failed, in words a user can search for ("bind /models", "pivot_root").
    public var step: String
    public var errno: Int32?
    /// What went wrong, in one sentence.
    public var message: String
    /// The likely cause and fix, when one is known.
    public var hint: String?
    public var exitCode: Int32

    public init(step: String, errno: Int32? = nil, message: String, hint: String? = nil, exitCode: Int32 = LPAExitCode.ownError) {
        self.step = step
        self.errno = errno
        self.message = message
        self.hint = hint
        self.exitCode = exitCode
    }

    public var description: String {
        var text = "lpa-run: error: \(step): \(message)"
        if let errno {
            text += " (\(ErrnoNames.describe(errno)): \(String(cString: strerror(errno))))"
        }
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }

}

extension LaunchError {
    /// A failed step of the executor (CLaunch), worded like every other failed syscall.
    init(_ failure: lpa_launch_error, hint: String? = nil) {
        self.init(step: failure.step.map { String(cString: $0) } ?? "launch", errno: failure.err,
                  message: "failed", hint: hint)
    }
}
