/// Expands `~`, `${NAME}` and `${NAME:-default}` in paths and environment values.
///
/// An undefined variable is an error rather than an empty string: `${HOEM}/data`
/// silently becoming `/data` would bind the wrong directory.
struct VariableExpander: Sendable {
    var variables: [String: String]

    init(context: HostContext) {
        var v = context.environment
        let home = context.home
        func fallback(_ name: String, _ value: String) {
            if v[name]?.isEmpty ?? true { v[name] = value }
        }
        v["HOME"] = home
        v["CWD"] = context.cwd
        v["UID"] = String(context.uid)
        v["GID"] = String(context.gid)
        fallback("XDG_CACHE_HOME", home + "/.cache")
        fallback("XDG_CONFIG_HOME", home + "/.config")
        fallback("XDG_DATA_HOME", home + "/.local/share")
        fallback("XDG_STATE_HOME", home + "/.local/state")
        fallback("TMPDIR", "/tmp")
        variables = v
    }

    struct Failure: Error, Equatable {
        var message: String
    }

    /// Expands variables; `$$` is a literal `$`.
    func expand(_ text: String) throws(Failure) -> String {
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            guard c == "$" else {
                out.append(c)
                i = text.index(after: i)
                continue
            }
            let next = text.index(after: i)
            if next < text.endIndex, text[next] == "$" {
                out.append("$")
                i = text.index(after: next)
                continue
            }
            guard next < text.endIndex, text[next] == "{",
                  let close = text[next...].firstIndex(of: "}") else {
                throw Failure(message: "'$' must start ${NAME} (write $$ for a literal '$') in '\(text)'")
            }
            let body = String(text[text.index(after: next)..<close])
            out += try value(of: body)
            i = text.index(after: close)
        }
        return out
    }

    /// Expands, then applies a leading `~` (only as `~` or `~/...`).
    func expandPath(_ text: String) throws(Failure) -> String {
        let expanded = try expand(text)
        if expanded == "~" { return variables["HOME"] ?? "/" }
        if expanded.hasPrefix("~/") { return (variables["HOME"] ?? "") + expanded.dropFirst(1) }
        return expanded
    }

    private func value(of body: String) throws(Failure) -> String {
        var name = body
        var defaultValue: String?
        if let range = body.firstRange(of: ":-") {
            name = String(body[..<range.lowerBound])
            defaultValue = String(body[range.upperBound...])
        }
        guard Self.isName(name) else { throw Failure(message: "bad variable name '\(name)' in '${\(body)}'") }
        if let value = variables[name], !(defaultValue != nil && value.isEmpty) { return value }
        if let defaultValue { return try expand(defaultValue) }
        throw Failure(message: "undefined variable '${\(name)}'")
    }

    static func isName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.isASCIILetter else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || $0.isASCIILetter || ("0"..."9").contains($0) }
    }
}

extension Unicode.Scalar {
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}
