#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy
import LPASandbox

/// Resolves a command name to an absolute executable path, as execvp would, on the host:
/// the plan records the result, so dry-run shows exactly what will run.
enum ExecutableLookup {
    enum Outcome: Equatable {
        case found(String)
        /// Exists but cannot be executed (exit LPAExitCode.notExecutable).
        case notExecutable(String)
        /// Not found (exit LPAExitCode.notFound).
        case notFound
    }

    static func resolve(_ name: String, path: String?, cwd: String) -> Outcome {
        if name.contains("/") {
            let absolute = name.hasPrefix("/") ? name : cwd + "/" + name
            return check(PathNormalizer.lexical(absolute)) ?? .notFound
        }
        var firstUnexecutable: String?
        for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let base = dir.isEmpty ? cwd : (dir.hasPrefix("/") ? String(dir) : cwd + "/" + dir)
            switch check(base + "/" + name) {
            case .found(let p)?: return .found(PathNormalizer.lexical(p))
            case .notExecutable(let p)?: firstUnexecutable = firstUnexecutable ?? p
            default: continue
            }
        }
        return firstUnexecutable.map { .notExecutable($0) } ?? .notFound
    }

    private static func check(_ candidate: String) -> Outcome? {
        HostReads.note(candidate)
        var st = stat()
        guard stat(candidate, &st) == 0 else { return nil }
        if (st.st_mode & S_IFMT) == S_IFDIR || access(candidate, X_OK) != 0 { return .notExecutable(candidate) }
        return .found(candidate)
    }

}
