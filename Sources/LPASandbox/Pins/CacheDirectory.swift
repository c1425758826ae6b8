#if canImport(Glibc)
import Glibc
#endif

/// lpa-run's cache directory on the host (`$XDG_CACHE_HOME/lpa-run`), opened once and
/// used through its descriptor, so that every file of the verification cache and the
/// socket-walk cache is read from and written to a directory the caller owns. Root
/// running with another user's HOME (or a user's link planted at the cache path) must
/// neither write into a directory that user controls nor create one inside it: the
/// directory is created (0700) only beneath a directory the caller owns, and used only
/// when it is a real directory (not a link) owned by the caller and writable by no one else.
struct CacheDirectory {
    let fd: Int32

    /// Where the start-up caches live (socket walks, seccomp programs): lpa-run's cache
    /// directory; nil without one (no HOME) or with LPA_START_CACHE=off.
    static let startCaches: String? = {
        if let off = getenv("LPA_START_CACHE"), String(cString: off) == "off" { return nil }
        return VerificationCache.defaultDirectory()
    }()

    /// nil: no usable cache directory (the caches are then neither read nor written).
    static func open(_ path: String, create: Bool) -> CacheDirectory? {
        guard path.hasPrefix("/"), linksAreTrusted(path) else { return nil }
        if create { makeOwned(path) }
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == geteuid(), st.st_mode & 0o022 == 0 else {
            _ = Glibc.close(fd)
            return nil
        }
        return CacheDirectory(fd: fd)
    }

    func close() { _ = Glibc.close(fd) }

    /// Every link on the way is the caller's or root's (like the kernel's
    /// protected_symlinks): root running with a user's HOME must not follow that user's
    /// `~/.cache -> /etc` and make /etc/lpa-run. A link swapped in after this check is
    /// the caller's own directory's doing (the directory that holds it is theirs).
    private static func linksAreTrusted(_ path: String) -> Bool {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            var st = stat()
            guard lstat(current, &st) == 0 else { return true }  // the rest does not exist yet
            if (st.st_mode & S_IFMT) == S_IFLNK && st.st_uid != geteuid() && st.st_uid != 0 { return false }
        }
        return true
    }

    /// mkdir -p with mode 0700, each new directory only inside one the caller owns.
    private static func makeOwned(_ path: String) {
        var current = ""
        for part in path.split(separator: "/") {
            let parent = current.isEmpty ? "/" : current
            current += "/" + part
            var st = stat()
            if lstat(current, &st) == 0 { continue }
            guard stat(parent, &st) == 0, st.st_uid == geteuid() else { return }
            if mkdir(current, 0o700) != 0 && errno != EEXIST { return }
        }
    }

    /// Why a cache file was not used.
    enum Ignored: Error {
        case unreadable, foreign(String), corrupt(String)
        var text: String {
            switch self {
            case .unreadable: "unreadable"
            case .foreign(let why): "not ours: \(why)"
            case .corrupt(let why): "corrupt: \(why)"
            }
        }
    }

    /// The bytes of `name`: nil when it does not exist; refused when it is not a regular
    /// file, not the caller's, writable by others, or larger than `limit`.
    func read(_ name: String, limit: Int) -> Result<[UInt8]?, Ignored> {
        let fd = openat(self.fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 { return errno == ENOENT ? .success(nil) : .failure(.unreadable) }
        defer { _ = Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(.unreadable) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .failure(.foreign("not a regular file")) }
        // Someone else's file (or one others may write) could vouch for a tampered model
        // or hide a socket.
        guard st.st_uid == geteuid() else { return .failure(.foreign("owned by uid \(st.st_uid)")) }
        guard st.st_mode & 0o022 == 0 else { return .failure(.foreign("writable by group or others")) }
        guard st.st_size <= limit else { return .failure(.corrupt("too large")) }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var got = 0
        while got < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        return got == bytes.count ? .success(bytes) : .failure(.unreadable)
    }

    /// The regular files whose names start with `prefix`, oldest (mtime) first.
    func files(withPrefix prefix: String) -> [(name: String, modified: Int)] {
        let copy = dup(fd)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { _ = Glibc.close(copy) }
            return []
        }
        defer { closedir(stream) }
        var found: [(name: String, modified: Int, nanoseconds: Int)] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix(prefix) else { continue }
            var st = stat()
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            found.append((name, st.st_mtim.tv_sec, st.st_mtim.tv_nsec))
        }
        // Oldest first, to the nanosecond: many files are written within one second.
        return found.sorted { ($0.modified, $0.nanoseconds) < ($1.modified, $1.nanoseconds) }
            .map { ($0.name, $0.modified) }
    }

    func remove(_ name: String) { unlinkat(fd, name, 0) }

    /// Replaces `name` atomically (a temporary file beside it, then rename); `sync`
    /// flushes it first. False on any failure (the file is then left as it was).
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8], sync: Bool) -> Bool {
        let temporary = "\(name).tmp.\(getpid())"
        let fd = openat(self.fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            written += n
        }
        let ok = written == bytes.count && (!sync || fsync(fd) == 0)
        _ = Glibc.close(fd)
        if !ok || renameat(self.fd, temporary, self.fd, name) != 0 {
            unlinkat(self.fd, temporary, 0)
            return false
        }
        return true
    }
}
