/// Readers for `network:` endpoints (`publish`, `connect`). Each returns nil after
/// recording a diagnostic when the value is wrong.
extension NodeReader {
    mutating func endpoint<T>(_ node: Node, key: String,
                              _ parse: (String) throws(EndpointParser.Failure) -> T) -> T? {
        guard let text = string(node, key: key) else { return nil }
        do throws(EndpointParser.Failure) {
            return try parse(text.value)
        } catch {
            self.error(node, error.message, hint: error.hint)
            return nil
        }
    }
}

/// `bind-ports` / `connect-ports`: `any`, or a list of TCP ports (0-65535; 0 lets
/// bind(2) pick an ephemeral port).
extension NodeReader {
    mutating func ports(_ node: Node, key: String) -> Located<LandlockPorts>? {
        if let scalar = node.scalar {
            guard scalar.string == "any" else {
                error(node, "'\(key)' must be 'any' or a list of TCP ports, not '\(scalar.string)'",
                      hint: UInt16(scalar.string) != nil ? "write [\(scalar.string)]" : nil)
                return nil
            }
            return Located(value: .any, position: position(of: node))
        }
        guard case .sequence(let sequence) = node else {
            error(node, "'\(key)' must be 'any' or a list of TCP ports, not \(kind(of: node))")
            return nil
        }
        var ports: [UInt16] = []
        for child in sequence {
            guard let text = child.scalar?.string, let port = UInt16(text) else {
                error(child, "'\(key)' items must be TCP port numbers (0-65535), not '\(child.scalar?.string ?? kind(of: child))'")
                continue
            }
            ports.append(port)
        }
        return Located(value: .only(Array(Set(ports)).sorted()), position: position(of: node))
    }
}

/// The relay's limits (docs/profiles.md, "Relay limits"): `max-connections`, an integer
/// from 1 to NetworkPlan.maxConnectionsLimit, and `idle-timeout`, a duration.
extension NodeReader {
    mutating func maxConnections(_ node: Node, key: String) -> Located<Int>? {
        guard let text = string(node, key: key) else { return nil }
        let limit = NetworkPlan.maxConnectionsLimit
        guard let value = Int(text.value), (1...limit).contains(value) else {
            error(node, "'\(key)' must be a number of connections from 1 to \(limit), not '\(text.value)'",
                  hint: "the default is \(NetworkPlan.defaultMaxConnections) per published port and per host endpoint")
            return nil
        }
        return Located(value: value, position: text.position)
    }

    /// `none` or 0 (never), a number of seconds, or a number with a unit ms, s, m or h;
    /// in milliseconds, at most 7 days (beyond that, `none` says what is meant).
    mutating func idleTimeout(_ node: Node, key: String) -> Located<UInt64>? {
        guard let text = string(node, key: key) else { return nil }
        guard let value = Self.duration(text.value) else {
            error(node, "'\(key)' must be a duration such as 300s, 5m or 1500ms (at most 7 days), or none, not '\(text.value)'",
                  hint: "a number alone is seconds; none (or 0) never closes an idle connection")
            return nil
        }
        return Located(value: value, position: text.position)
    }

    /// Milliseconds, or nil when the text is not a duration up to 7 days.
    static func duration(_ text: String) -> UInt64? {
        if text == "none" { return 0 }
        let units: [(String, UInt64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        var digits = Substring(text)
        var scale: UInt64 = 1000
        for (unit, factor) in units where text.hasSuffix(unit) {
            digits = text.dropLast(unit.count)
            scale = factor
            break
        }
        guard !digits.isEmpty, digits.count <= 12, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }),
              let number = UInt64(digits) else { return nil }
        let (product, overflow) = number.multipliedReportingOverflow(by: scale)
        guard !overflow, product <= 7 * 24 * 3_600_000 else { return nil }
        return product
    }
}
