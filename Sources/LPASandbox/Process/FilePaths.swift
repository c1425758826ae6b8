#if canImport(Glibc)
import Glibc
#endif

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
