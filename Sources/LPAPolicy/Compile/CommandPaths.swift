/// What the command itself says about the host's files: the Python environment it runs
/// in, the model files a preset's `model-arguments` name, and arguments naming host paths
/// the sandbox would not see. Pure: every host fact comes from `context` (pathKind,
/// shebang, resolveLinks); without them (tests, goldens) nothing is added or said.
struct CommandPaths {
    let document: ProfileDocument
    let context: HostContext
    let command: CommandPlan
    let overrides: CommandLineOverrides
    /// The sandbox's working directory, where a relative argument resolves inside.
    let workingDirectory: String

    /// A Python environment bound read-only: what of it is bound, its root, and the
    /// interpreter that runs in it.
    struct PythonEnvironment {
        var binds: [AddedMounts.Bind]
        var root: String
        var interpreter: String
        var position: SourcePosition { binds[0].position }
    }

    /// What a virtual environment consists of: `python3 -m venv .` makes a project
    /// directory the root, and its other files (.env, keys, notes) are not the
    /// environment's. Links (lib64 -> lib) are left out: Python reads lib/.
    static let virtualEnvironmentParts = ["pyvenv.cfg", "bin", "lib"]
    /// What a conda environment consists of (a prefix: `conda create -p .` makes a project
    /// one too, and its .env and .git are not the environment's).
    static let condaEnvironmentParts = ["bin", "lib", "conda-meta", "include", "share", "etc", "ssl", "libexec", "x86_64-conda-linux-gnu"]

    var argv: [String] { command.argv }

    /// argv position of command word `index` (argv[0] of lpa-run is 0).
    private func position(_ index: Int) -> Int { overrides.commandPosition + index }

    // MARK: Python environments

    /// `<root>/bin/<name>` in a virtual environment (`<root>/pyvenv.cfg`, a regular file)
    /// or a conda environment (`<root>/conda-meta/`, a directory); lstat only.
    private func environmentRoot(of interpreter: String) -> (root: String, what: String)? {
        guard let kind = context.pathKind else { return nil }
        let bin = PathNormalizer.directory(of: interpreter)
        guard bin.hasSuffix("/bin") else { return nil }
        let root = PathNormalizer.directory(of: bin)
        if kind(root + "/pyvenv.cfg") == .file { return (root, "a Python virtual environment (pyvenv.cfg)") }
        // conda writes conda-meta/history in every environment: an empty conda-meta/ that
        // a cloned repository ships is not one.
        if kind(root + "/conda-meta") == .directory, kind(root + "/conda-meta/history") == .file {
            return (root, "a conda environment (conda-meta/)")
        }
        return nil
    }

    /// The environment the command runs in: the executable lies in one; or the command
    /// is python/python3 with VIRTUAL_ENV set; or its `#!` names an interpreter in one.
    /// The root is bound read-only (Python finds pyvenv.cfg and site-packages through the
    /// path it was started by); never the home or an ancestor of it, never '/'.
    func pythonEnvironment(alreadyBound: [String], _ diagnostics: inout [Diagnostic]) -> PythonEnvironment? {
        guard let executable = command.executable, context.pathKind != nil else { return nil }
        var found: (root: String, reason: String, interpreter: String)?
        if let env = environmentRoot(of: executable) {
            found = (env.root, "\(executable) runs in \(env.what)", executable)
        }
        let name = String(executable.split(separator: "/").last ?? "")
        if found == nil, Self.isPythonName(name), let variable = context.environment["VIRTUAL_ENV"],
           let root = try? PathNormalizer.normalize(variable), context.pathKind?(root + "/pyvenv.cfg") == .file {
            found = (root, "\(name) with VIRTUAL_ENV=\(root), a Python virtual environment (pyvenv.cfg)",
                     root + "/bin/" + name)
        }
        if found == nil, let line = context.shebang?(executable),
           let interpreter = try? PathNormalizer.normalize(line), let env = environmentRoot(of: interpreter) {
            // A script may name any interpreter: only one that lies in the environment
            // (its entry points, bin/tool) makes the environment the command's. Otherwise
            // the #! line of an untrusted script would choose what lpa-run binds.
            guard PathNormalizer.isWithin(executable, env.root) else {
                diagnostics.append(Diagnostic(
                    at: .automatic("the #! line of \(executable) names \(interpreter), in \(env.what)"), severity: .warning,
                    "not binding \(env.root) automatically: \(executable) lies outside it",
                    hint: "if you trust that environment, add --ro \(env.root)"))
                return nil
            }
            found = (env.root, "the #! line of \(executable) names \(interpreter), in \(env.what)", interpreter)
        }
        guard let found else { return nil }
        if found.root == "/" || PathNormalizer.isWithin(context.home, found.root) {
            diagnostics.append(Diagnostic(at: .automatic(found.reason), severity: .warning,
                                          "not binding \(found.root) automatically: it would expose the home "
                                              + "directory or the whole host",
                                          hint: "bind the environment's directories with --ro PATH"))
            return nil
        }
        if alreadyBound.contains(where: { PathNormalizer.isWithin(found.root, $0) }) { return nil }
        // The environment's parts only, never its whole root.
        let parts = context.pathKind?(found.root + "/pyvenv.cfg") == .file
            ? Self.virtualEnvironmentParts : Self.condaEnvironmentParts
        let sources = parts.map { found.root + "/" + $0 }.filter {
            let kind = context.pathKind?($0)
            return kind == .file || kind == .directory
        }
        guard !sources.isEmpty else { return nil }
        return PythonEnvironment(
            binds: sources.map {
                AddedMounts.Bind(source: $0, target: $0, readOnly: true, position: .automatic(found.reason), named: false)
            },
            root: found.root, interpreter: found.interpreter)
    }

    static func isPythonName(_ name: String) -> Bool {
        guard name.hasPrefix("python") else { return false }
        let version = name.dropFirst("python".count)
        return version.isEmpty || version.allSatisfy { $0.isNumber || $0 == "." }
    }

    /// A virtual environment's `bin/python` is a link to the interpreter it was made
    /// from (usually under /usr, which profiles bind): say so when that is not visible.
    func checkInterpreter(_ environment: PythonEnvironment, _ mounts: [MountEntry],
                          _ diagnostics: inout [Diagnostic]) {
        guard let real = context.resolveLinks?(environment.interpreter), real != environment.interpreter,
              !PathNormalizer.isWithin(real, environment.root),
              !Self.visible(host: real, inside: real, mounts, context) else { return }
        let bin = PathNormalizer.directory(of: real)
        let prefix = bin.hasSuffix("/bin") ? PathNormalizer.directory(of: bin) : bin
        let fix = PathNormalizer.isWithin(context.home, prefix) || prefix == "/" ? real : prefix
        diagnostics.append(Diagnostic(
            at: environment.position, severity: .warning,
            "the environment's interpreter \(environment.interpreter) is a link to \(real), which the sandbox "
                + "cannot see",
            hint: "add --ro \(fix)"))
    }

    // MARK: Model arguments

    /// Files (or model directories) named after a `model-arguments` word, bound
    /// read-only at the path the command will open: that path itself, never its
    /// directory, never the home. Returns the binds and the argv indexes they consumed.
    func modelArguments(alreadyBound: [String], _ diagnostics: inout [Diagnostic])
        -> (binds: [AddedMounts.Bind], consumed: Set<Int>) {
        guard let declared = document.modelArguments, !declared.items.isEmpty, let kind = context.pathKind else {
            return ([], [])
        }
        let names = declared.items.map(\.value)
        var binds: [AddedMounts.Bind] = []
        var consumed: Set<Int> = []
        var index = 1
        while index < argv.count {
            defer { index += 1 }
            let word = argv[index]
            var name = word
            var value: String
            var valueIndex = index
            if let eq = word.firstIndex(of: "="), word.hasPrefix("--"), names.contains(String(word[..<eq])) {
                name = String(word[..<eq])
                value = String(word[word.index(after: eq)...])
            } else if names.contains(word), index + 1 < argv.count {
                value = argv[index + 1]
                valueIndex = index + 1
            } else {
                continue
            }
            guard !value.isEmpty, !value.hasPrefix("-") else { continue }
            if value.hasPrefix("~/") { value = context.home + value.dropFirst() }  // not expanded after '='
            let host = PathNormalizer.lexical(value.hasPrefix("/") ? value : context.cwd + "/" + value)
            // What the command does with a missing path is its own business (a model name
            // to download, say): nothing to bind.
            guard kind(host) != nil else { continue }
            consumed.insert(valueIndex)
            let typed = valueIndex == index ? word : "\(word) \(value)"
            let declaration = declared.items.first { $0.value == name }?.position.origin.description ?? "the profile"
            let position = SourcePosition.argv(position(valueIndex), typed,
                                               detail: "\(typed), a model argument (\(declaration))")
            if host == "/" || PathNormalizer.isWithin(context.home, host) {
                diagnostics.append(Diagnostic(at: position, severity: .warning,
                                              "not binding \(host): it would expose the home directory or the whole host",
                                              hint: "name the model file itself"))
                continue
            }
            let target = value.hasPrefix("/") ? host : PathNormalizer.lexical(workingDirectory + "/" + value)
            if target == host, alreadyBound.contains(where: { PathNormalizer.isWithin(host, $0) }) { continue }
            if binds.contains(where: { $0.target == target }) { continue }
            binds.append(AddedMounts.Bind(source: host, target: target, readOnly: true, position: position,
                                          named: false))
        }
        return (binds, consumed)
    }

    // MARK: Arguments the sandbox cannot see

    /// File extensions that `--model` is for (bound read-only, optionally pinned).
    static let modelExtensions = ["gguf", "ggml", "safetensors", "bin", "onnx", "pt", "pth", "ckpt", "tflite"]

    /// Warns about each argument (or `--opt=value`) naming an existing host file or
    /// directory, absolute or relative to the working directory, that the plan does not
    /// show the sandbox at the path the command will use, with the exact fix. A warning,
    /// not a refusal: lpa-run cannot know that an argument is a path for the command (a
    /// path inside the sandbox, a URL path, a pattern), and the program says itself
    /// what it cannot open.
    func checkVisibility(_ mounts: [MountEntry], skipping consumed: Set<Int>, _ diagnostics: inout [Diagnostic]) {
        guard let kind = context.pathKind else { return }
        for (index, word) in argv.enumerated().dropFirst() where !consumed.contains(index) {
            var candidate = word
            if word.hasPrefix("-") {
                guard let eq = word.firstIndex(of: "=") else { continue }
                candidate = String(word[word.index(after: eq)...])
            }
            guard !candidate.isEmpty, !candidate.hasPrefix("~"), !candidate.contains("://") else { continue }
            let relative = !candidate.hasPrefix("/")
            let host = PathNormalizer.lexical(relative ? context.cwd + "/" + candidate : candidate)
            let inside = relative ? PathNormalizer.lexical(workingDirectory + "/" + candidate) : host
            // The sandbox has its own /, /proc and /dev.
            guard host != "/", !["/proc", "/dev"].contains(where: { PathNormalizer.isWithin(host, $0) }),
                  let found = kind(host) else { continue }
            if Self.visible(host: host, inside: inside, mounts, context) { continue }
            let effective = Self.effectiveMount(inside, mounts)
            var why = "not bound"
            if let effective, effective.kind == .hide { why = "hidden by lpa-run" }
            else if let effective, effective.kind == .tmpfs { why = "\(effective.target) is a fresh tmpfs inside" }
            else if effective != nil { why = "\(inside) is something else inside" }
            var message = "'\(word)' names \(host), which the sandbox cannot see (\(why))"
            if relative && inside != host { message += "; inside, it means \(inside)" }
            let hint: String
            if effective?.kind == .hide {
                hint = "lpa-run keeps it from every sandbox"
            } else if host == context.home || PathNormalizer.isWithin(context.home, host) {
                hint = "bind only what the command needs inside it with --ro PATH"
            } else {
                let isModel = found != .directory && Self.modelExtensions.contains {
                    host.lowercased().hasSuffix("." + $0)
                }
                var fix = (isModel ? "add --model " : "add --ro ") + host
                if relative && inside != host {
                    fix = "pass the absolute path \(host) and " + fix
                }
                let previous = index > 1 ? argv[index - 1] : ""
                if ["-m", "--model"].contains(previous) || word.hasPrefix("--model=") {
                    fix += ", or use a preset that declares the command's model arguments "
                        + "(--profile llama-server, whisper-server, vllm)"
                }
                hint = fix
            }
            diagnostics.append(Diagnostic(at: .argv(position(index), word), severity: .warning, message, hint: hint))
        }
    }

    /// The mount that decides what `inside` is: the last one covering it, since the
    /// mounts are ordered parents first and hides last.
    static func effectiveMount(_ inside: String, _ mounts: [MountEntry]) -> MountEntry? {
        mounts.last { $0.kind != .symlink && PathNormalizer.isWithin(inside, $0.target) }
    }

    /// Whether `inside` in the sandbox is the host's `host`: the mount deciding it is a
    /// bind whose source, followed down to it, is `host` (also through links).
    static func visible(host: String, inside: String, _ mounts: [MountEntry], _ context: HostContext) -> Bool {
        guard let mount = effectiveMount(inside, mounts), mount.kind == .bind || mount.kind == .device,
              let source = mount.source else { return false }
        let rest = mount.target == "/" ? inside : String(inside.dropFirst(mount.target.count))
        let seen = source == "/" ? (rest.isEmpty ? "/" : rest) : source + rest
        if seen == host { return true }
        guard let resolve = context.resolveLinks, let real = resolve(host) else { return false }
        return resolve(seen) == real
    }
}
