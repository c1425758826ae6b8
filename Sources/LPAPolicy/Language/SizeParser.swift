/// Sizes such as `512M` or `64G` (powers of 1024), for tmpfs and rlimits.
enum SizeParser {
    struct Failure: Error, Equatable {
        var message: String
    }

    private static let units: [String: UInt64] = [
        "": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40,
    ]

    /// Accepts digits with an optional unit K, M, G, T (also KB/KiB spellings).
    static func parse(_ text: String) throws(Failure) -> UInt64 {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        var unit = text.dropFirst(digits.count).uppercased()
        if unit.count == 3, unit.hasSuffix("IB") {
            unit.removeLast(2)  // KiB
        } else if unit.hasSuffix("B") {
            unit.removeLast()  // KB, B
        }
        guard !digits.isEmpty, let number = UInt64(digits), let multiplier = units[unit] else {
            throw Failure(message: "bad size '\(text)': expected a number with an optional unit K, M, G or T")
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw Failure(message: "size '\(text)' is too large") }
        return bytes
    }

    /// The shortest exact spelling (1073741824 -> "1G"), for the text plan.
    static func format(_ bytes: UInt64) -> String {
        for (suffix, size) in [("T", UInt64(1) << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(suffix)"
        }
        return "\(bytes)"
    }
}
