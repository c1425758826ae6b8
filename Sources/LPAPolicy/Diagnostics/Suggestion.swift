/// "Did you mean" suggestions: the closest known word by edit distance
/// (adjacent transpositions count as one edit, so `netwrok` finds `network`).
enum Suggestion {
    static func closest(to word: String, in candidates: [String]) -> String? {
        // No known word is this long: a huge value gets no suggestion, and costs nothing.
        guard word.count <= 64 else { return nil }
        let limit = max(2, word.count / 3)
        var best: (name: String, distance: Int)?
        // The distance is at least the difference in length: skip the hopeless ones.
        for candidate in candidates where abs(candidate.count - word.count) <= limit {
            let d = distance(word.lowercased(), candidate.lowercased())
            if d <= limit, d < (best?.distance ?? Int.max) { best = (candidate, d) }
        }
        return best?.name
    }

    /// " (did you mean 'x'?)" or "".
    static func phrase(for word: String, in candidates: [String]) -> String {
        closest(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    /// Optimal string alignment distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
