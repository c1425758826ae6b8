/// The one JSON string writer of lpa-run (audit log, exit report, probe, doctor,
/// hash): no Foundation on the start-up path, and no string a sandbox chose can carry
/// a control character, escape sequence or shell expansion to whoever reads it.
public enum JSONString {
    /// A JSON string literal that is printable ASCII only: quotes and backslashes
    /// escaped, and every other byte below 0x20 or from 0x7f up as \uXXXX (UTF-16,
    /// surrogate pairs above U+FFFF), so no control character, terminal escape, line
    /// separator or bidi override reaches whoever reads the file. `$` and backquote are
    /// escaped too: a line that ends up in a shell file expands nothing.
    public static func literal(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "$", "`": out += unicodeEscape(scalar.value)
            case _ where scalar.value >= 0x20 && scalar.value < 0x7f: out.unicodeScalars.append(scalar)
            case _ where scalar.value > 0xffff:
                let v = scalar.value - 0x10000
                out += unicodeEscape(0xd800 + (v >> 10)) + unicodeEscape(0xdc00 + (v & 0x3ff))
            default: out += unicodeEscape(scalar.value)
            }
        }
        return out + "\""
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
