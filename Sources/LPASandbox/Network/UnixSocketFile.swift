#if canImport(Glibc)
import Glibc
#endif
import CSupervisor

/// The host side of unix-socket endpoints (docs/plan.md, "Unix-socket endpoints").
///
/// A published socket (`-p unix:HOST_PATH:PORT`) is created without a window in which
/// anyone else could reach or replace it:
/// 1. HOST_PATH's directory is opened once (O_PATH) and every step works relative to
///    that descriptor, so a link swapped into the path later changes nothing. It must
///    exist (lpa-run makes no directories on the host), be owned by the caller or root,
///    and not be writable by others unless sticky (then nobody else may remove or
///    rename our entry).
/// 2. An existing name is replaced only when it is a socket of the caller's on which
///    nothing listens (left by a run that was killed); anything else (a file, a link,
///    a live socket, another user's socket) is refused.
/// 3. The socket is bound inside a fresh 0700 directory next to it, made 0600, and
///    only then hard-linked to its name (linkat fails if the name was taken meanwhile:
///    nothing is ever overwritten). The private directory is removed.
/// 4. At exit the name is removed only if it is still the very socket made here
///    (same device and inode, not followed through a link).
struct UnixSocketFile {
    let directory: Int32
    let name: String
    let device: UInt64
    let inode: UInt64
    let path: String

    static let streamCloexec = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)

    /// The listening socket and its file.
    static func create(_ path: String) throws(LaunchError) -> (Int32, UnixSocketFile) {
        let step = "publish unix:\(path)"
        let parent = Self.parent(of: path), name = Self.name(of: path)
        let directory = open(parent, FilePaths.openPath | O_DIRECTORY | O_CLOEXEC)
        if directory < 0 {
            let err = errno
            throw LaunchError(step: step, errno: err, message: "cannot open the socket's directory \(parent)",
                              hint: err == ENOENT ? "create the directory first; lpa-run makes no directories on the host" : nil)
        }
        var ok = false
        defer { if !ok { close(directory) } }
        var info = stat()
        try sys(step) { fstat(directory, &info) }
        let me = geteuid()
        guard info.st_uid == me || info.st_uid == 0 else {
            throw LaunchError(step: step, errno: EPERM, message: "the directory \(parent) belongs to uid \(info.st_uid)",
                              hint: "create the socket in a directory you own, such as $XDG_RUNTIME_DIR")
        }
        if info.st_mode & 0o022 != 0 && info.st_mode & mode_t(S_ISVTX) == 0 {
            throw LaunchError(step: step, errno: EPERM, message: "others may write the directory \(parent) (mode \(String(info.st_mode & 0o7777, radix: 8)), not sticky)",
                              hint: "create the socket in a directory only you may write, such as $XDG_RUNTIME_DIR")
        }
        try replaceStale(directory: directory, name: name, step: step)

        // Bound where nobody else can reach it, made 0600, then linked to its name.
        let scratch = ".lpa-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try sys(step + ": private directory") { mkdirat(directory, scratch, 0o700) }
        defer { unlinkat(directory, scratch, AT_REMOVEDIR) }
        let scratchFd = openat(directory, scratch, FilePaths.openPath | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if scratchFd < 0 { throw LaunchError(step: step, errno: errno, message: "cannot open the private directory") }
        defer {
            unlinkat(scratchFd, "s", 0)
            close(scratchFd)
        }
        let fd = try sys(step) { socket(AF_UNIX, Self.streamCloexec, 0) }
        var bound = false
        defer { if !bound { close(fd) } }
        var address = Self.address("/proc/self/fd/\(scratchFd)/s")
        let addressLength = Self.length(address)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, addressLength) }
        }
        if rc != 0 { throw LaunchError(step: step, errno: errno, message: "cannot bind the socket") }
        try sys(step + ": chmod 0600") { fchmodat(scratchFd, "s", 0o600, 0) }
        var made = stat()
        try sys(step) { fstatat(scratchFd, "s", &made, AT_SYMLINK_NOFOLLOW) }
        try sys(step + ": listen") { Glibc.listen(fd, 512) }
        if linkat(scratchFd, "s", directory, name, 0) != 0 {
            let err = errno
            throw LaunchError(step: step, errno: err, message: "cannot put the socket at \(path)",
                              hint: err == EEXIST ? "something appeared at that name meanwhile; nothing was replaced" : nil)
        }
        bound = true
        ok = true
        return (fd, UnixSocketFile(directory: directory, name: name, device: UInt64(made.st_dev),
                                   inode: UInt64(made.st_ino), path: path))
    }

    /// An existing name: removed only when it is a dead socket of the caller's.
    private static func replaceStale(directory: Int32, name: String, step: String) throws(LaunchError) {
        var existing = stat()
        if fstatat(directory, name, &existing, AT_SYMLINK_NOFOLLOW) != 0 {
            if errno == ENOENT { return }
            throw LaunchError(step: step, errno: errno, message: "cannot look at the existing name")
        }
        let kind = existing.st_mode & mode_t(S_IFMT)
        guard kind == mode_t(S_IFSOCK) else {
            throw LaunchError(step: step, errno: EEXIST,
                              message: "something that is not a socket is there (\(kind == mode_t(S_IFLNK) ? "a symbolic link" : "a file or directory")); lpa-run replaces only a dead socket of yours",
                              hint: "choose another path, or remove it yourself")
        }
        guard existing.st_uid == geteuid() else {
            throw LaunchError(step: step, errno: EEXIST, message: "a socket of uid \(existing.st_uid) is there",
                              hint: "choose another path")
        }
        // Is anything listening? (It is a socket, not a link; connect reaches it by name.)
        guard "/proc/self/fd/\(directory)/\(name)".utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw LaunchError(step: step, errno: ENAMETOOLONG, message: "cannot tell whether the existing socket is in use",
                              hint: "remove it yourself, or choose a shorter name")
        }
        let probe = try sys(step) { socket(AF_UNIX, Self.streamCloexec, 0) }
        defer { close(probe) }
        var address = Self.address("/proc/self/fd/\(directory)/\(name)")
        let addressLength = Self.length(address)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, addressLength) }
        }
        let err = errno
        if connected == 0 {
            throw LaunchError(step: step, errno: EADDRINUSE, message: "a program is listening on that socket",
                              hint: "choose another path, or stop that program")
        }
        guard err == ECONNREFUSED else {
            throw LaunchError(step: step, errno: err, message: "cannot tell whether the existing socket is in use")
        }
        try sys(step + ": remove the dead socket") { unlinkat(directory, name, 0) }
    }

    /// For `--connect unix:HOST_PATH`: an O_PATH descriptor of the host socket, checked
    /// to be one. The caller named the path (the compiler refused one inside the
    /// sandbox's read-write binds); from now on the relay uses the descriptor.
    static func pin(_ path: String) throws(LaunchError) -> Int32 {
        let step = "connect unix:\(path)"
        let fd = open(path, FilePaths.openPath | O_CLOEXEC)
        if fd < 0 {
            let err = errno
            throw LaunchError(step: step, errno: err, message: "cannot open the host socket",
                              hint: err == ENOENT ? "start the program that listens there first" : nil)
        }
        var info = stat()
        if fstat(fd, &info) != 0 || info.st_mode & mode_t(S_IFMT) != mode_t(S_IFSOCK) {
            close(fd)
            throw LaunchError(step: step, errno: ENOTSOCK, message: "\(path) is not a unix socket")
        }
        return fd
    }

    /// Removes the name if it is still the socket made here; never follows a link.
    func remove() {
        var now = stat()
        if fstatat(directory, name, &now, AT_SYMLINK_NOFOLLOW) == 0,
           UInt64(now.st_dev) == device, UInt64(now.st_ino) == inode {
            unlinkat(directory, name, 0)
        }
        close(directory)
    }

    static func address(_ path: String) -> sockaddr_storage {
        var storage = sockaddr_storage()
        var unix = sockaddr_un()
        unix.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &unix.sun_path) { raw in
            for (i, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
        withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: unix) { raw.copyMemory(from: $0) } }
        return storage
    }

    static func length(_ address: sockaddr_storage) -> socklen_t {
        let offset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        let pathLength = withUnsafeBytes(of: address) { raw in
            raw[offset...].prefix { $0 != 0 }.count
        }
        return socklen_t(offset + pathLength + 1)
    }

    private static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    private static func name(of path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
