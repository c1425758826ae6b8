import CCap
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Capability names through libcap, so new capabilities need no table update.
enum CapabilityResolver {
    /// Accepts CAP_NET_BIND_SERVICE, cap_net_bind_service or net_bind_service.
    static func resolve(_ text: String) -> Capability? {
        var name = text.lowercased()
        if !name.hasPrefix("cap_") { name = "cap_" + name }
        var value = cap_value_t()
        guard cap_from_name(name, &value) == 0, String(value) != name.dropFirst(4) else { return nil }
        return Capability(name: name.uppercased(), number: Int32(value))
    }

    /// Every name libcap knows, for suggestions (unnamed numbers are skipped).
    static let knownNames: [String] = {
        var names: [String] = []
        for value in cap_value_t(0)..<64 {
            guard let raw = cap_to_name(value) else { continue }
            let name = String(cString: raw)
            cap_free(raw)
            if name.hasPrefix("cap_") { names.append(name.uppercased()) }
        }
        return names
    }()
}
