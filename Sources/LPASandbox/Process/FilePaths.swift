#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy

/// Path lookups on the host that several concerns need: one wrapper each.
public enum FilePaths {
    /// readlink(2): the link's text, nil when `path` is not a readable link.
    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// realpath(3): `path` with every link resolved; nil when it does not exist.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Opens `path` (O_PATH) one component at a time without ever following a link that
    /// root does not own: a link the caller owns may have been planted by an earlier
    /// sandbox, and checking the path first and opening it later would lose a race
    /// against a process that swaps a directory for such a link in between. The launcher
    /// then proves the mount it makes is this very object (device and inode).
    /// Throws the link (path, owner) that stopped it, or the errno.
    enum Resolution: Error {
        case link(path: String, uid: uid_t)
        case failed(errno: Int32)
    }

    /// O_PATH (hidden from Swift by glibc's _GNU_SOURCE guard; asm-generic value, the
    /// same on x86-64 and arm64).
    static let openPath: Int32 = 0o10_000_000

    static func openFollowingRootLinksOnly(_ path: String) throws(Resolution) -> Int32 {
        guard path.hasPrefix("/") else { throw .failed(errno: EINVAL) }
        var directory = open("/", FilePaths.openPath | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw .failed(errno: errno) }
        var shown = ""  // the path as walked so far, for messages
        var pending = path.split(separator: "/").map(String.init)
        var links = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." { continue }
            let fd = openat(directory, component, FilePaths.openPath | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 {
                let err = errno
                close(directory)
                throw .failed(errno: err)
            }
            shown += "/" + component
            var st = stat()
            guard fstat(fd, &st) == 0 else {
                let err = errno
                close(fd)
                close(directory)
                throw .failed(errno: err)
            }
            guard (st.st_mode & S_IFMT) == S_IFLNK else {
                close(directory)
                directory = fd
                continue
            }
            // A link: only root's are followed (/bin -> usr/bin, /lib64 -> ...).
            defer { close(fd) }
            links += 1
            guard st.st_uid == 0, links <= 40 else {
                close(directory)
                if st.st_uid != 0 { throw .link(path: shown, uid: st.st_uid) }
                throw .failed(errno: ELOOP)
            }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlinkat(fd, "", &buffer, buffer.count - 1)
            guard n > 0 else {
                let err = errno
                close(directory)
                throw .failed(errno: err)
            }
            let text = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            pending = text.split(separator: "/").map(String.init) + pending
            if text.hasPrefix("/") {
                close(directory)
                directory = open("/", FilePaths.openPath | O_DIRECTORY | O_CLOEXEC)
                guard directory >= 0 else { throw .failed(errno: errno) }
            }
        }
        return directory
    }

    /// What an open descriptor refers to, as the kernel names it.
    static func path(ofDescriptor fd: Int32) -> String? { readLink("/proc/self/fd/\(fd)") }
}

/// Writes to lpa-run's stderr unbuffered (progress lines, warnings): the one writer.
public func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        bytes = bytes.dropFirst(n)
    }
}
