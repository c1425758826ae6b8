/// The JSON string writer of the compiler's generated documents (the profile schema,
/// exported OCI/Kubernetes/seccomp files): RFC 8259 escapes, plus DEL, so the text is
/// also a valid YAML double-quoted scalar. (The launcher's `JSONString` is stricter:
/// printable ASCII only, for logs a person may read on a terminal.)
public enum JSONLiteral {
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
