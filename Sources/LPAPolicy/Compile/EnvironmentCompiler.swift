/// The workload's environment: empty, then kept host variables (never secrets
/// unless allowed), then the sandbox's own HOME/TMPDIR/XDG_*, then the
/// profile's `set`, then --env.
struct EnvironmentCompiler {
    let document: ProfileDocument
    let context: HostContext
    let overrides: CommandLineOverrides

    func compile(_ diagnostics: inout [Diagnostic]) -> EnvironmentPlan {
        var values: [String: EnvironmentPlan.Variable] = [:]
        let host = context.environment
        let allowed = (document.allowSecrets?.items ?? []).map(\.value)
        for name in host.keys.sorted() {
            guard let pattern = document.keep?.items.first(where: { NameGlob.matches($0.value, name) }) else { continue }
            if SecretNames.isSecret(name), !allowed.contains(where: { NameGlob.matches($0, name) }) { continue }
            values[name] = .init(name: name, value: host[name]!, origin: pattern.position.origin)
        }
        let home = context.home
        for (name, value) in [("HOME", home), ("TMPDIR", "/tmp"), ("XDG_CACHE_HOME", home + "/.cache"),
                              ("XDG_CONFIG_HOME", home + "/.config"), ("XDG_DATA_HOME", home + "/.local/share"),
                              ("XDG_STATE_HOME", home + "/.local/state")] {
            values[name] = .init(name: name, value: value)
        }
        for (name, value) in document.set {
            values[name] = .init(name: name, value: value.value, origin: value.position.origin)
        }
        for entry in overrides.env {
            let at = SourcePosition.commandLine("--env")
            if let equals = entry.firstIndex(of: "=") {
                let name = String(entry[..<equals])
                guard VariableExpander.isName(name) else {
                    diagnostics.append(Diagnostic(at: at, "bad variable name '\(name)' in '\(entry)'"))
                    continue
                }
                values[name] = .init(name: name, value: String(entry[entry.index(after: equals)...]))
            } else if let value = host[entry] {
                values[entry] = .init(name: entry, value: value)
            } else {
                diagnostics.append(Diagnostic(at: at, severity: .warning, "--env \(entry): not set on the host; not passed"))
            }
        }
        let set = values.values.sorted { $0.name < $1.name }
        let dropped = host.keys.filter { values[$0] == nil }.sorted()
        return EnvironmentPlan(set: set, dropped: dropped)
    }
}
