#if canImport(Glibc)
import Glibc
#endif

/// Device nodes on this host that a profile's pattern (`/dev/nvidia*`) names.
public enum DeviceNodes {
    /// glob(3) without flags: the paths that exist now, sorted; [] when none.
    public static func matching(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard glob(pattern, 0, nil, &g) == 0 else { return [] }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }
    }
}
