/// Readers for the top-level keys `extends:` and `hostname:`. Each returns nil (or
/// nothing) after recording a diagnostic when the value is wrong.
extension NodeReader {
    mutating func extends(_ node: Node) -> [Located<String>] {
        if case .scalar = node { return string(node, key: "extends").map { [$0] } ?? [] }
        guard case .sequence(let items) = node else {
            error(node, "'extends' must be a profile name or a list of them")
            return []
        }
        return items.compactMap { string($0, key: "extends") }
    }

    /// RFC 1123 label: what sethostname accepts and resolvers agree on.
    mutating func hostname(_ node: Node) -> Located<String>? {
        guard let name = string(node, key: "hostname") else { return nil }
        guard HostnameRule.isValid(name.value) else {
            error(node, "bad hostname '\(name.value)': use 1-63 letters, digits and '-'")
            return nil
        }
        return name
    }
}

/// Hostnames the kernel and resolvers accept.
enum HostnameRule {
    static func isValid(_ name: String) -> Bool {
        (1...63).contains(name.count) && !name.hasPrefix("-") && !name.hasSuffix("-")
            && name.unicodeScalars.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "-" }
    }
}
