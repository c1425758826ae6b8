import Yams

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
