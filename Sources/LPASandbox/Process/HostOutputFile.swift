#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy

/// A file lpa-run writes on the host for the user: the audit log (`--audit-log`,
/// appended to) and the exit report (`--report-json`, always a new file).
///
/// Its path is hostile input (DESIGN.md "Trust boundaries"): a sandbox that could write
/// there, in this run or an earlier one, may have planted a link to ~/.bashrc (and
/// then chosen the text of a log line), a FIFO (lpa-run would hang in open), or a hard
/// link. So the directory is opened once and the name is opened relative to it with
/// `O_NOFOLLOW|O_NOCTTY|O_NONBLOCK`; the result must be a regular file owned by the
/// caller with one link; the report is created with `O_EXCL`; and a path that lies in
/// a read-write bind of the plan is refused, since the sandbox could swap it for a
/// link before the next run writes it.
public final class HostOutputFile: Sendable {
    public enum Mode: Sendable {
        /// Opened for appending, created 0600 when missing (the audit log).
        case append
        /// Created 0600; an existing file or link is refused (the report).
        case createNew
    }

    /// The descriptor to write through.
    public let fd: Int32
    /// The path as the user gave it, for messages.
    public let path: String
    private let directory: Int32
    private let name: String
    private let device: UInt64
    private let inode: UInt64

    private init(fd: Int32, path: String, directory: Int32, name: String, device: UInt64, inode: UInt64) {
        self.fd = fd
        self.path = path
        self.directory = directory
        self.name = name
        self.device = device
        self.inode = inode
    }

    /// Opens `path` for `option` (the command-line option, named in every error).
    /// `cwd` resolves a relative path; `plan` says which host paths the sandbox can write.
    public static func open(_ path: String, option: String, mode: Mode, plan: IsolationPlan,
                            cwd: String) throws(LaunchError) -> HostOutputFile {
        func refuse(_ message: String, errno: Int32? = nil, hint: String? = nil) -> LaunchError {
            LaunchError(step: "\(option) \(path)", errno: errno, message: message, hint: hint)
        }
        let absolute = path.hasPrefix("/") ? path : cwd + "/" + path
        let parts = absolute.split(separator: "/", omittingEmptySubsequences: true)
        guard !path.isEmpty, !absolute.hasSuffix("/"), let last = parts.last, last != ".", last != ".." else {
            throw refuse("names a directory, not a file", hint: "give the path of a file")
        }
        let name = String(last)
        let parent = "/" + parts.dropLast().joined(separator: "/")

        // Walked one component at a time, following only root's links: a link the caller
        // owns may have been planted by a sandbox, and a check before the open would
        // lose a race against one that swaps a directory for such a link.
        let directory: Int32
        do throws(FilePaths.Resolution) {
            directory = try FilePaths.openFollowingRootLinksOnly(parent)
        } catch {
            switch error {
            case .link(let link, let uid):
                throw refuse("its directory goes through \(link), a symbolic link owned by uid \(uid)",
                             hint: "give the real path (links owned by root are fine)")
            case .failed(let err):
                throw refuse("cannot open its directory", errno: err, hint: "check that \(parent) exists")
            }
        }
        var directoryStat = stat()
        if fstat(directory, &directoryStat) != 0 || (directoryStat.st_mode & S_IFMT) != S_IFDIR {
            close(directory)
            throw refuse("its parent is not a directory", errno: ENOTDIR, hint: "check \(parent)")
        }
        do throws(LaunchError) {
            // The path as given and the path its directory really is (links resolved).
            var candidates = [PathNormalizer.lexical(absolute)]
            if let resolved = FilePaths.path(ofDescriptor: directory), resolved.hasPrefix("/") {
                candidates.append((resolved == "/" ? "" : resolved) + "/" + name)
            }
            if let bind = writableBind(containingAny: candidates, plan: plan) {
                throw refuse("lies inside \(bind.source ?? bind.target), which the sandbox can write (read-write bind"
                                 + (bind.origin.map { " from \($0)" } ?? "") + ")",
                             hint: "the sandbox could replace the file with a link before lpa-run writes it; "
                                 + "choose a path outside every read-write directory of the profile")
            }
            let file = try openFile(name, in: directory, mode: mode, refuse: refuse)
            return file.withPath(path, directory: directory)
        } catch {
            close(directory)
            throw error
        }
    }

    /// Writes all of `bytes`; false on a failure or a short write.
    public func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Removes a file `open(.createNew)` made, when the run ended before writing it,
    /// and only while its name still leads to that file.
    public func removeCreated() {
        var st = stat()
        guard fstatat(directory, name, &st, AT_SYMLINK_NOFOLLOW) == 0,
              UInt64(st.st_dev) == device, UInt64(st.st_ino) == inode else { return }
        unlinkat(directory, name, 0)
    }

    /// For a file written whole, then put in place (`lpa-run learn -o`): opened
    /// `.createNew` under a temporary name, it takes `finalName` in the same directory
    /// (the descriptor opened and checked at `open`): linkat, refused with EEXIST when the
    /// name exists, or with `replace` renameat over it (a link there is replaced, never
    /// followed). The temporary name is gone afterwards. Returns 0 or the errno.
    public func publish(as finalName: String, replace: Bool) -> Int32 {
        var result: Int32 = 0
        if fsync(fd) != 0 {
            result = errno
        } else if replace {
            if renameat(directory, name, directory, finalName) == 0 { return 0 }
            result = errno
        } else if linkat(directory, name, directory, finalName, 0) != 0 {
            result = errno
        }
        removeCreated()
        return result
    }

    deinit {
        close(fd)
        close(directory)
    }

    // MARK: - Steps

    /// The read-write bind of the plan that contains one of `paths`; nil when none does.
    /// Bind sources are compared as written and resolved.
    static func writableBind(containingAny paths: [String], plan: IsolationPlan) -> MountEntry? {
        for entry in plan.mounts where entry.kind == .bind && !entry.options.readOnly {
            guard let source = entry.source else { continue }
            var sources = [PathNormalizer.lexical(source)]
            if let resolved = FilePaths.realPath(source) { sources.append(resolved) }
            for base in sources {
                for path in paths where base == "/" || path == base || path.hasPrefix(base + "/") {
                    return entry
                }
            }
        }
        return nil
    }

    /// openat relative to the directory, never following a link or blocking, then the
    /// checks that need the open file (fstat): regular, the caller's, one link.
    private static func openFile(_ name: String, in directory: Int32, mode: Mode,
                                 refuse: (String, Int32?, String?) -> LaunchError) throws(LaunchError) -> PendingFile {
        var flags = O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC | O_CREAT
        switch mode {
        case .append:
            flags |= O_APPEND
            // A FIFO or device is refused before open ever touches it.
            var st = stat()
            if fstatat(directory, name, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) != S_IFREG {
                throw refuse("is \(describe(st.st_mode)), not a regular file", nil,
                             "lpa-run writes only regular files it owns; remove it or choose another path")
            }
        case .createNew:
            flags |= O_EXCL
        }
        var fd: Int32
        repeat { fd = openat(directory, name, flags, 0o600) } while fd < 0 && errno == EINTR
        if fd < 0 {
            let err = errno
            switch err {
            case EEXIST:
                throw refuse("exists already", err,
                             "lpa-run never replaces a file here (it could be a planted link); remove it or choose a new name")
            case ELOOP:
                throw refuse("is a symbolic link", err, "lpa-run never writes through a link; remove it or choose another path")
            case ENXIO:
                throw refuse("is a FIFO or socket, not a regular file", err, "remove it or choose another path")
            default:
                throw refuse("cannot open it", err, "check that its directory exists and is writable")
            }
        }
        var st = stat()
        var problem: String?
        if fstat(fd, &st) != 0 {
            problem = "cannot be checked"
        } else if (st.st_mode & S_IFMT) != S_IFREG {
            problem = "is \(describe(st.st_mode)), not a regular file"
        } else if st.st_uid != geteuid() {
            problem = "belongs to uid \(st.st_uid), not to you (uid \(geteuid()))"
        } else if st.st_nlink != 1 {
            problem = "has \(st.st_nlink) hard links (another name could lead to the same file)"
        }
        if let problem {
            close(fd)
            throw refuse(problem, nil, "lpa-run writes only regular files it owns; remove it or choose another path")
        }
        return PendingFile(fd: fd, name: name, device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    private struct PendingFile {
        var fd: Int32
        var name: String
        var device: UInt64
        var inode: UInt64

        func withPath(_ path: String, directory: Int32) -> HostOutputFile {
            HostOutputFile(fd: fd, path: path, directory: directory, name: name, device: device, inode: inode)
        }
    }

    private static func describe(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFLNK: "a symbolic link"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFDIR: "a directory"
        default: "not a regular file"
        }
    }
}
