/// Paths in the plan are absolute and normalized, so that comparisons (is the
/// executable already bound? is a path both read-only and read-write?) are exact.
/// The one place where lpa-run tidies paths (profiles, `lpa-run hash`, command lookup).
public enum PathNormalizer {
    struct Failure: Error, Equatable {
        var message: String
    }

    /// Collapses "//" and "/./", drops a trailing "/". Relative paths and ".."
    /// are errors: ".." through a symlink does not mean what it looks like.
    static func normalize(_ path: String) throws(Failure) -> String {
        guard path.hasPrefix("/") else {
            throw Failure(message: "path '\(path)' is not absolute")
        }
        if path.split(separator: "/").contains("..") {
            throw Failure(message: "path '\(path)' contains '..'")
        }
        return collapsed(path)
    }

    /// An absolute path with "//", "/./" and a trailing "/" collapsed; ".." kept.
    public static func collapsed(_ path: String) -> String {
        "/" + path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }

    /// An absolute path with "." and ".." resolved by name, without following links:
    /// the path shown is the one the user would recognise.
    public static func lexical(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Whether `path` is `base` or lies below it.
    public static func isWithin(_ path: String, _ base: String) -> Bool {
        base == "/" || path == base || path.hasPrefix(base + "/")
    }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
