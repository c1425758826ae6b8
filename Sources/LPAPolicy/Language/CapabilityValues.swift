/// Readers for `capabilities:`. Each returns nil after recording a diagnostic when
/// the value is wrong.
extension NodeReader {
    mutating func capability(_ node: Node) -> Capability? {
        guard let name = string(node, key: "capabilities") else { return nil }
        guard let capability = CapabilityResolver.resolve(name.value) else {
            let suggestion = Suggestion.closest(to: "CAP_" + name.value.uppercased().replacingEvery("CAP_", with: ""),
                                                in: CapabilityResolver.knownNames)
            error(node, "unknown capability '\(name.value)'" + (suggestion.map { " (did you mean '\($0)'?)" } ?? ""))
            return nil
        }
        return capability
    }
}
