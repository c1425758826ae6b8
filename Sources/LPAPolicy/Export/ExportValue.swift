/// A JSON value whose objects keep their keys in the order written, so an exported
/// document reads in the order its specification lists the fields, and golden files
/// stay stable. Rendered as JSON (seccomp, OCI) or as block YAML (Kubernetes).
public indirect enum ExportValue: Equatable, Sendable {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case bool(Bool)
    case array([ExportValue])
    case object([(String, ExportValue)])

    public static func == (a: ExportValue, b: ExportValue) -> Bool { a.json() == b.json() }

    /// Two-space indented JSON with a final newline.
    public func json() -> String {
        var out = ""
        writeJSON(into: &out, indent: 0)
        return out + "\n"
    }

    private func writeJSON(into out: inout String, indent: Int) {
        let pad = String(repeating: " ", count: indent + 2)
        switch self {
        case .string(let s): out += Self.quoted(s)
        case .int(let n): out += String(n)
        case .uint(let n): out += String(n)
        case .bool(let b): out += b ? "true" : "false"
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                item.writeJSON(into: &out, indent: indent + 2)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{\n"
            for (i, (key, value)) in pairs.enumerated() {
                out += pad + Self.quoted(key) + ": "
                value.writeJSON(into: &out, indent: indent + 2)
                out += i == pairs.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        }
    }

    /// Block YAML. Every string is double-quoted with JSON escapes, which YAML reads the
    /// same way, so no value (a "yes", an "080", a "key: value") changes type.
    public func yaml() -> String {
        var out = ""
        writeYAML(into: &out, indent: 0, inList: false)
        return out
    }

    private var isScalar: Bool {
        switch self {
        case .array(let a): a.isEmpty
        case .object(let o): o.isEmpty
        default: true
        }
    }

    private var scalarText: String {
        switch self {
        case .string(let s): Self.quoted(s)
        case .int(let n): String(n)
        case .uint(let n): String(n)
        case .bool(let b): b ? "true" : "false"
        case .array: "[]"
        case .object: "{}"
        }
    }

    private func writeYAML(into out: inout String, indent: Int, inList: Bool) {
        let pad = String(repeating: " ", count: indent)
        switch self {
        case .array(let items) where !items.isEmpty:
            for item in items {
                if item.isScalar {
                    out += pad + "- " + item.scalarText + "\n"
                } else if case .object(let pairs) = item {
                    // "- key: value" then the other keys aligned under the first.
                    var first = true
                    for (key, value) in pairs {
                        out += (first ? pad + "- " : pad + "  ") + key + ":"
                        first = false
                        if value.isScalar {
                            out += " " + value.scalarText + "\n"
                        } else {
                            out += "\n"
                            value.writeYAML(into: &out, indent: indent + 4, inList: true)
                        }
                    }
                } else {
                    out += pad + "-\n"
                    item.writeYAML(into: &out, indent: indent + 2, inList: true)
                }
            }
        case .object(let pairs) where !pairs.isEmpty:
            for (key, value) in pairs {
                if value.isScalar {
                    out += pad + key + ": " + value.scalarText + "\n"
                } else {
                    out += pad + key + ":\n"
                    value.writeYAML(into: &out, indent: indent + 2, inList: false)
                }
            }
        default:
            out += pad + scalarText + "\n"
        }
    }

    /// A JSON string literal (also a YAML double-quoted scalar): `JSONLiteral.quoted`.
    public static func quoted(_ s: String) -> String { JSONLiteral.quoted(s) }
}
