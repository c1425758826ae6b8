/// Host variables that look like credentials. They are never copied by a `keep`
/// glob unless named in `allow-secrets` or passed with --env: a model server has
/// no business seeing the caller's cloud keys or agent sockets.
enum SecretNames {
    static let substrings = ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY", "ACCESS_KEY", "CREDENTIAL", "PRIVATE_KEY"]
    static let prefixes = ["AWS_", "GCP_", "AZURE_", "OPENAI_", "ANTHROPIC_"]
    static let exact: Set<String> = [
        "GOOGLE_APPLICATION_CREDENTIALS", "HF_TOKEN", "GITHUB_TOKEN", "SSH_AUTH_SOCK", "GPG_AGENT_INFO",
        // Session buses and displays are doors to the desktop session outside the sandbox.
        "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY",
    ]
    static let suffixes = ["_PROXY"]  // proxy URLs often embed credentials

    static func isSecret(_ name: String) -> Bool {
        // This runs for each host variable a `keep` glob matches, on every start: an ASCII
        // name is upper-cased and searched as bytes; any other through uppercased() (which
        // maps "ß" to "SS", say), as before.
        let upper = name.utf8.allSatisfy({ $0 < 0x80 })
            ? name.utf8.map { (97...122).contains($0) ? $0 - 32 : $0 }
            : Array(name.uppercased().utf8)
        func has(_ needle: String) -> Bool {
            let n = Array(needle.utf8)
            guard n.count <= upper.count else { return false }
            return (0...(upper.count - n.count)).contains { start in upper[start..<(start + n.count)].elementsEqual(n) }
        }
        return exact.contains(String(decoding: upper, as: UTF8.self))
            || substrings.contains(where: has)
            || prefixes.contains { upper.starts(with: $0.utf8) }
            || suffixes.contains { upper.count >= $0.utf8.count && upper.suffix($0.utf8.count).elementsEqual($0.utf8) }
    }
}

/// Shell-style globs over variable names: `*` any run, `?` one character.
enum NameGlob {
    static func matches(_ pattern: String, _ name: String) -> Bool {
        // ASCII (every portable variable name) is matched on bytes; anything else on
        // Characters, as before. Both give the same answer for ASCII.
        if pattern.utf8.allSatisfy({ $0 < 0x80 }) && name.utf8.allSatisfy({ $0 < 0x80 }) {
            return match(Array(pattern.utf8), Array(name.utf8), any: UInt8(ascii: "*"), one: UInt8(ascii: "?"))
        }
        return match(Array(pattern), Array(name), any: "*", one: "?")
    }

    private static func match<T: Equatable>(_ p: [T], _ n: [T], any: T, one: T) -> Bool {
        var pi = 0, ni = 0, star = -1, mark = 0
        while ni < n.count {
            if pi < p.count, p[pi] == one || p[pi] == n[ni] {
                pi += 1
                ni += 1
            } else if pi < p.count, p[pi] == any {
                star = pi
                mark = ni
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ni = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == any { pi += 1 }
        return pi == p.count
    }
}
