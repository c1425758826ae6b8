/// A JSON value whose objects keep their keys in the order written, so the generated
/// schema reads top-down (description first) and is byte-for-byte reproducible.
indirect enum JSON: Equatable, Sendable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case array([JSON])
    case object([(String, JSON)])

    static func == (a: JSON, b: JSON) -> Bool { JSONText.render(a) == JSONText.render(b) }
}

/// Renders `JSON` with two-space indentation; arrays of scalars stay on one line.
enum JSONText {
    static func render(_ value: JSON, indent: Int = 0) -> String {
        let pad = String(repeating: " ", count: indent + 2)
        switch value {
        case .string(let text): return quoted(text)
        case .int(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .array(let items):
            if items.allSatisfy(\.isScalar) { return "[" + items.map { render($0) }.joined(separator: ", ") + "]" }
            return "[\n" + items.map { pad + render($0, indent: indent + 2) }.joined(separator: ",\n")
                + "\n" + String(repeating: " ", count: indent) + "]"
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + fields.map { pad + quoted($0.0) + ": " + render($0.1, indent: indent + 2) }.joined(separator: ",\n")
                + "\n" + String(repeating: " ", count: indent) + "}"
        }
    }

    /// A JSON string literal (`JSONLiteral.quoted`).
    static func quoted(_ text: String) -> String { JSONLiteral.quoted(text) }
}

extension JSON {
    var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }
}
