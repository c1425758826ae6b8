#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy

/// Path lookups on the host that several concerns need: one wrapper each.
enum FilePaths {
    /// readlink(2): the link's text, nil when `path` is not a readable link.
    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// realpath(3): `path` with every link resolved; nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The first symbolic link on the way to `path` (each component, and the components
    /// of every link's target, to a bounded depth) that root does not own: one the caller
    /// or a sandbox could have planted. nil when every link is root's (or there is none).
    static func linkNotOwnedByRoot(in path: String, depth: Int = 0) -> (path: String, uid: uid_t)? {
        guard depth < 8, path.hasPrefix("/") else { return nil }
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            var st = stat()
            guard lstat(prefix, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK else { continue }
            if st.st_uid != 0 { return (prefix, st.st_uid) }
            guard let text = readLink(prefix) else { continue }
            let target = text.hasPrefix("/") ? text : PathNormalizer.lexical(PathNormalizer.directory(of: prefix) + "/" + text)
            if let found = linkNotOwnedByRoot(in: target, depth: depth + 1) { return found }
        }
        return nil
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
