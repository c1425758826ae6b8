/// Paths in the plan are absolute and normalized, so that comparisons (is the
/// executable already bound? is a path both read-only and read-write?) are exact.
enum PathNormalizer {
    struct Failure: Error, Equatable {
        var message: String
    }

    /// Collapses "//" and "/./", drops a trailing "/". Relative paths and ".."
    /// are errors: ".." through a symlink does not mean what it looks like.
    static func normalize(_ path: String) throws(Failure) -> String {
        guard path.hasPrefix("/") else {
            throw Failure(message: "path '\(path)' is not absolute")
        }
        let parts = path.split(separator: "/").filter { $0 != "." }
        if parts.contains("..") {
            throw Failure(message: "path '\(path)' contains '..'")
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Whether `path` is `base` or lies below it.
    static func isWithin(_ path: String, _ base: String) -> Bool {
        base == "/" || path == base || path.hasPrefix(base + "/")
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
