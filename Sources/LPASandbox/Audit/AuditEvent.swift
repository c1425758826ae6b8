#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy

/// One refused call, as the log and the exit report show it. Every string but the
/// syscall and errno names was chosen by the sandbox: hostile until escaped.
struct AuditEvent: Equatable, Sendable {
    var seconds: Int64
    var nanoseconds: Int64
    var syscall: String
    var errnoName: String
    /// As the sandbox sees it.
    var pid: Int64
    var hostPid: UInt32
    var executable: String
    var detail: String
    /// Handled by design (`AuditRule.expected`): logged with action "expected".
    var expected = false

    /// The report keeps the first few examples, each at most this many bytes.
    static let exampleLimit = 5
    static let exampleBytes = 199

    /// One JSON line (with its newline) for `--audit-log`.
    var jsonLine: String {
        "{\"time\":\(AuditText.json(time)),\"action\":\"\(expected ? "expected" : "blocked")\",\"syscall\":\(AuditText.json(syscall)),"
            + "\"errno\":\(AuditText.json(errnoName)),\"pid\":\(pid),\"host_pid\":\(hostPid),"
            + "\"exe\":\(AuditText.json(executable)),\"detail\":\(AuditText.json(detail))}\n"
    }

    /// "connect 203.0.113.7:443 (ENETUNREACH) by pid 2 /usr/bin/curl": one line of the
    /// exit report, which goes to a terminal: no control characters.
    var example: String {
        let text = "\(syscall) \(detail)\(detail.isEmpty ? "" : " ")(\(errnoName)) by pid \(pid) \(executable)"
        return AuditText.truncated(AuditText.printable(text), toBytes: Self.exampleBytes)
    }

    /// ISO 8601 in UTC with milliseconds: 2025-01-31T12:00:00.123Z.
    var time: String { Self.isoTime(seconds: seconds, nanoseconds: nanoseconds) }

    /// Without nanoseconds, to the second: 2025-01-31T12:00:00Z.
    static func isoTime(seconds: Int64, nanoseconds: Int64?) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(Int(parts.tm_year) + 1900, 4) + "-" + pad(Int(parts.tm_mon) + 1, 2) + "-" + pad(Int(parts.tm_mday), 2)
            + "T" + pad(Int(parts.tm_hour), 2) + ":" + pad(Int(parts.tm_min), 2) + ":" + pad(Int(parts.tm_sec), 2)
            + (nanoseconds.map { "." + pad(Int($0 / 1_000_000), 3) } ?? "") + "Z"
    }
}

/// Escaping for text the sandbox chose (DESIGN.md: logs are evidence; escape every
/// byte a reader could misinterpret).
public enum AuditText {
    /// Text from the caller's memory: invalid UTF-8 becomes U+FFFD.
    static func decode(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// See `JSONString.literal`: the audit log's strings are the sandbox's choice.
    public static func json(_ text: String) -> String { JSONString.literal(text) }

    /// For a terminal: every control character, line separator and bidi control becomes "?".
    static func printable(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { out.append(isUnsafeOnTerminal(scalar) ? "?" : scalar) }
        return String(out)
    }

    /// At most `limit` UTF-8 bytes, cut between characters.
    static func truncated(_ text: String, toBytes limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var out = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            if used + size > limit { break }
            out.append(character)
            used += size
        }
        return out
    }

    static func isUnsafeOnTerminal(_ scalar: Unicode.Scalar) -> Bool { TerminalText.isUnsafe(scalar) }
}

/// The time lpa-run writes into files besides the audit log (a learned profile's
/// header): ISO 8601 in UTC, to the second, as the audit log writes it.
public enum ISOTime {
    public static func now() -> String {
        AuditEvent.isoTime(seconds: Int64(time(nil)), nanoseconds: nil)
    }
}
