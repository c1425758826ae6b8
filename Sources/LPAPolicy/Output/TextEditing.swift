/// The few string edits the project needs, without Foundation (whose String API would
/// bring ICU into the binary). Matching is on Unicode scalars, not characters, so an
/// escape cannot be dodged by a combining mark that glues itself to the `%` or quote it
/// follows.
extension StringProtocol {
    /// Every occurrence of `target` replaced by `replacement`, left to right.
    public func replacingEvery(_ target: String, with replacement: String) -> String {
        let needle = Array(target.unicodeScalars)
        guard let first = needle.first else { return String(self) }
        let source = Array(unicodeScalars)
        var out = String.UnicodeScalarView()
        var index = 0
        while index < source.count {
            if source[index] == first, index + needle.count <= source.count,
               source[index..<(index + needle.count)].elementsEqual(needle) {
                out.append(contentsOf: replacement.unicodeScalars)
                index += needle.count
            } else {
                out.append(source[index])
                index += 1
            }
        }
        return String(out)
    }

    /// Followed by spaces up to `length` characters; never cut (Foundation's
    /// `padding(toLength:)` counted UTF-16 units and cut longer text).
    public func padded(to length: Int) -> String {
        String(self) + String(repeating: " ", count: Swift.max(0, length - count))
    }

    /// Without leading and trailing spaces and tabs.
    public var trimmingBlanks: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
        return String(self[start...last])
    }
}
