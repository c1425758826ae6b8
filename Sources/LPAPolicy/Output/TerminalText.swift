/// Text that reaches a terminal from somewhere else (a profile anyone may have written,
/// a path or name the sandbox chose): the one rule for what may pass.
public enum TerminalText {
    /// Controls (C0, DEL, C1), plus what reorders or breaks a line on a terminal:
    /// U+2028/2029 and the bidirectional formatting characters (the "Trojan Source" set).
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x061c, 0x200e, 0x200f, 0x2028...0x202e, 0x2066...0x2069: true
        default: scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value)
        }
    }

    /// Every unsafe scalar becomes "?"; with `keepingLines`, newline and tab stay (a
    /// message lpa-run itself laid out on several lines).
    public static func printable(_ text: String, keepingLines: Bool = false) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let kept = keepingLines && (scalar == "\n" || scalar == "\t")
            out.append(!kept && isUnsafe(scalar) ? "?" : scalar)
        }
        return String(out)
    }
}
