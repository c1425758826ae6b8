#if canImport(Glibc)
import Glibc
#endif

/// Device nodes on this host that a profile's pattern (`/dev/nvidia*`) names.
public enum DeviceNodes {
    /// glob(3) without flags: the paths that exist now, sorted; [] when none.
    public static func matching(_ pattern: String) -> [String] {
        // The launch record re-checks the directory the glob lists (a new node changes
        // its mtime); a pattern with wildcards above its last component is not recorded.
        if HostReads.active != nil {
            let directory = pattern.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            if directory.contains(where: { $0.contains(where: { "*?[\\".contains($0) }) }) {
                HostReads.spoil("a device pattern with wildcards in its directories")
            } else {
                HostReads.note(directory.joined(separator: "/").isEmpty ? "/" : directory.joined(separator: "/"), .listing)
                HostReads.note(pattern)
            }
        }
        var g = glob_t()
        defer { globfree(&g) }
        guard glob(pattern, 0, nil, &g) == 0 else { return [] }
        let found = (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }
        found.forEach { HostReads.note($0) }
        return found
    }
}
