#if canImport(Glibc)
import Glibc
#endif
import CLaunch
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

    /// CLaunch's `lpa_open_trusted_path`, shared with the launch record's fast path.
    static func openFollowingRootLinksOnly(_ path: String) throws(Resolution) -> Int32 {
        var link = lpa_untrusted_link()
        let fd = lpa_open_trusted_path(path, &link)
        if fd >= 0 { return fd }
        let err = errno
        if fd == -2 {
            let shown = withUnsafeBytes(of: &link.path) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            throw .link(path: shown, uid: link.uid)
        }
        throw .failed(errno: err)
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
