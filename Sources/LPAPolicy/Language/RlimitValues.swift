/// Readers for `rlimits:`. Wrong values are left out after recording a diagnostic.
extension NodeReader {
    mutating func rlimits(_ node: Node) -> [String: Located<RlimitValue>] {
        let names = RlimitNames.numbers.keys.sorted()
        var result: [String: Located<RlimitValue>] = [:]
        for (name, keyNode, value) in entries(of: node, in: "'rlimits'", keys: names) {
            guard let text = string(value, key: name) else { continue }
            let limit: UInt64?
            if text.value == "unlimited" {
                limit = nil
            } else {
                do throws(SizeParser.Failure) {
                    limit = try SizeParser.parse(text.value)
                } catch {
                    self.error(value, error.message.replacingEvery("bad size", with: "bad limit")
                               + " or 'unlimited'")
                    continue
                }
            }
            // Core dumps would write process memory (prompts, weights, keys) to disk.
            if name == "core", limit != 0 {
                self.error(value, "rlimit 'core' cannot be raised: it is always 0",
                           hint: "core dumps would write the sandbox's memory (prompts, keys) to disk")
                continue
            }
            result[name] = Located(value: RlimitValue(limit: limit), position: position(of: keyNode))
        }
        return result
    }
}
