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
        let (directory, name) = try openDirectory(of: path, option: option, plan: plan, cwd: cwd)
        do throws(LaunchError) {
            let file = try openFile(name, in: directory, mode: mode) { message, errno, hint in
                LaunchError(step: "\(option) \(path)", errno: errno, message: message, hint: hint)
            }
            return file.withPath(path, directory: directory)
        } catch {
            close(directory)
            throw error
        }
    }

    /// The directory of `path` (opened O_PATH, walked following only root's links) and
    /// the file's name in it; refused when the sandbox can write the directory (see
    /// writableBind). The caller closes the descriptor.
    static func openDirectory(of path: String, option: String, plan: IsolationPlan,
                              cwd: String) throws(LaunchError) -> (fd: Int32, name: String) {
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
        // The path as given and the path its directory really is (links resolved); then
        // the directory and its ancestors by device and inode, which also catches a
        // bind-mount alias of a read-write directory (a path no string compare matches).
        var candidates = [PathNormalizer.lexical(absolute)]
        if let resolved = FilePaths.path(ofDescriptor: directory), resolved.hasPrefix("/") {
            candidates.append((resolved == "/" ? "" : resolved) + "/" + name)
        }
        if let bind = writableBind(containingAny: candidates, plan: plan)
            ?? writableBind(aboveDirectory: directory, plan: plan) {
            close(directory)
            throw refuse("lies inside \(bind.source ?? bind.target), which the sandbox can write (read-write bind"
                             + (bind.origin.map { " from \($0)" } ?? "") + ")",
                         hint: "the sandbox could replace the file with a link before lpa-run writes it; "
                             + "choose a path outside every read-write directory of the profile")
        }
        return (directory, name)
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

    /// The read-write bind of the plan whose source directory is `directory` or one of
    /// its ancestors (compared by device and inode, walking `..` up to the root); nil
    /// when none is.
    static func writableBind(aboveDirectory directory: Int32, plan: IsolationPlan) -> MountEntry? {
        var sources: [(device: UInt64, inode: UInt64, entry: MountEntry)] = []
        for entry in plan.mounts where entry.kind == .bind && !entry.options.readOnly {
            var st = stat()
            guard let source = entry.source, stat(source, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { continue }
            sources.append((UInt64(st.st_dev), UInt64(st.st_ino), entry))
        }
        guard !sources.isEmpty else { return nil }
        var current = openat(directory, ".", FilePaths.openPath | O_DIRECTORY | O_CLOEXEC)
        // Bounded: a path has at most PATH_MAX/2 components.
        for _ in 0..<2048 where current >= 0 {
            var st = stat()
            guard fstat(current, &st) == 0 else { break }
            if let match = sources.first(where: { $0.device == UInt64(st.st_dev) && $0.inode == UInt64(st.st_ino) }) {
                close(current)
                return match.entry
            }
            let parent = openat(current, "..", FilePaths.openPath | O_DIRECTORY | O_CLOEXEC)
            close(current)
            current = parent
            var parentStat = stat()
            // The root is its own parent.
            if current < 0 || fstat(current, &parentStat) != 0
                || (parentStat.st_dev == st.st_dev && parentStat.st_ino == st.st_ino) { break }
        }
        if current >= 0 { close(current) }
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

/// The directory of a file lpa-run writes whole once the sandbox is gone (`lpa-run learn
/// -o`): opened and checked before the run (HostOutputFile.openDirectory), so a bad path
/// fails before a long learning session, and kept open, so the file lands in the
/// directory that was checked. Nothing is created in it until `publish`, called after
/// the sandbox's init exited (its pid namespace then holds no process), so no sandbox
/// process can see, replace or race the file.
public final class HostOutputDirectory: Sendable {
    /// The path as the user gave it, for messages.
    public let path: String
    private let fd: Int32
    private let name: String

    public init(forFile path: String, option: String, plan: IsolationPlan, cwd: String) throws(LaunchError) {
        (fd, name) = try HostOutputFile.openDirectory(of: path, option: option, plan: plan, cwd: cwd)
        self.path = path
    }

    /// The file's device and inode when its name exists (not following a link there).
    public func existing() -> (device: UInt64, inode: UInt64)? {
        var st = stat()
        guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    /// Writes `bytes` to a new file (a random name, O_EXCL|O_NOFOLLOW, 0600 while
    /// written, then `mode`), fsyncs it and gives it the name: linkat, which fails with
    /// EEXIST when the name exists, or with `replace` renameat, which replaces whatever
    /// is there (a link itself, never its target). The random name is gone afterwards.
    /// Returns 0 or the errno.
    public func publish(_ bytes: [UInt8], mode: mode_t, replace: Bool) -> Int32 {
        var temporary = ""
        var file: Int32 = -1
        for _ in 0..<8 where file < 0 {
            temporary = ".\(name).lpa-learn-" + String(UInt64.random(in: 1...UInt64.max), radix: 16)
            repeat {
                file = openat(fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0o600)
            } while file < 0 && errno == EINTR
            if file < 0 && errno != EEXIST { return errno }
        }
        guard file >= 0 else { return EEXIST }
        var result: Int32 = 0
        var offset = 0
        while offset < bytes.count && result == 0 {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(file, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { result = n < 0 ? errno : EIO } else { offset += n }
        }
        if result == 0 && (fchmod(file, mode) != 0 || fsync(file) != 0) { result = errno }
        close(file)
        if result == 0 {
            if replace {
                if renameat(fd, temporary, fd, name) == 0 { return 0 }
                result = errno
            } else if linkat(fd, temporary, fd, name, 0) != 0 {
                result = errno
            }
        }
        unlinkat(fd, temporary, 0)
        return result
    }

    deinit {
        close(fd)
    }
}
