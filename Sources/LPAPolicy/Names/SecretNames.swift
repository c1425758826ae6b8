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
        let upper = name.uppercased()
        return exact.contains(upper)
            || substrings.contains { upper.contains($0) }
            || prefixes.contains { upper.hasPrefix($0) }
            || suffixes.contains { upper.hasSuffix($0) }
    }
}

/// Shell-style globs over variable names: `*` any run, `?` one character.
enum NameGlob {
    static func matches(_ pattern: String, _ name: String) -> Bool {
        let p = Array(pattern), n = Array(name)
        var pi = 0, ni = 0, star = -1, mark = 0
        while ni < n.count {
            if pi < p.count, p[pi] == "?" || p[pi] == n[ni] {
                pi += 1
                ni += 1
            } else if pi < p.count, p[pi] == "*" {
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
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
