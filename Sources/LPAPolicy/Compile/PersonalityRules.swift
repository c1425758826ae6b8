/// personality(2) under a default-allow filter: deny every value except 0 (PER_LINUX),
/// the listed flags in any combination, and 0xffffffff (the query), as Docker allows.
///
/// libseccomp takes one comparison per argument in a rule, and an unconditional deny
/// would swallow conditional allows, so "deny unless one of these" has to be written
/// as a union of deny rules, each one masked comparison on the low 32 bits:
/// `(x & mask) == value`. Each rule below fixes one bit outside the allowed flags to 1
/// (so x is not a combination of allowed flags) and another bit to 0 (so x is not the
/// query). Walking the 32 bits as a cycle, disallowed bits first and the allowed flags
/// after them, a denied x always has a run of ones that starts at a disallowed bit and
/// ends just before a zero; the rule for where that run ends matches it. That takes
/// one rule per bit (32 for Docker's set) where a prefix split would need about 80.
enum PersonalityRules {
    /// (mask, value) pairs whose union is exactly the denied 32-bit values.
    static func deniedValues(allowedFlags: UInt64) -> [(mask: UInt64, value: UInt64)] {
        let allowed = (0..<32).filter { allowedFlags & (UInt64(1) << UInt64($0)) != 0 }
        let others = (0..<32).filter { !allowed.contains($0) }
        guard let lastOther = others.last else { return [] }
        let cycle = others + allowed
        func next(_ index: Int) -> Int { cycle[(index + 1) % cycle.count] }
        var pairs: [(one: Int, zero: Int)] = []
        // A run of ones ending at a disallowed bit.
        for (index, bit) in cycle.enumerated() where index < others.count {
            pairs.append((bit, next(index)))
        }
        // A run ending at an allowed flag started at a disallowed bit, so it passes the
        // last disallowed bit just before the allowed block.
        for index in others.count..<cycle.count {
            pairs.append((lastOther, next(index)))
        }
        var seen: Set<UInt64> = []
        var result: [(mask: UInt64, value: UInt64)] = []
        for (one, zero) in pairs where one != zero {
            let mask = (UInt64(1) << UInt64(one)) | (UInt64(1) << UInt64(zero))
            let value = UInt64(1) << UInt64(one)
            if seen.insert(mask << 32 | value).inserted { result.append((mask, value)) }
        }
        return result
    }

    /// Whether personality(value) is allowed with these flags (the rules' specification).
    static func isAllowed(_ value: UInt32, allowedFlags: UInt64) -> Bool {
        value == 0xffff_ffff || UInt64(value) & ~allowedFlags == 0
    }
}
