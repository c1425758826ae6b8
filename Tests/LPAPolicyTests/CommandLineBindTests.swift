import Foundation
import Testing
@testable import LPAPolicy

/// Issue 15, items 1, 2 and 7: binds from the command line, Python environments bound
/// automatically, model arguments, and arguments naming host paths the sandbox cannot see.
/// Pure: the host is a table of paths given to the compiler.
struct CommandLineBindTests {
    /// A host where `kinds` exist (lstat), links resolve through `links`, scripts have the
    /// `#!` interpreters of `shebangs`, and `sockets` lie under bind sources.
    static func context(environment: [String: String] = [:], kinds: [String: HostPathKind] = [:],
                        links: [String: String] = [:], shebangs: [String: String] = [:],
                        sockets: [String: [String]] = [:]) -> HostContext {
        var env = Fixture.context.environment
        for (k, v) in environment { env[k] = v }
        return HostContext(environment: env, cwd: "/home/user/project", uid: 1000, gid: 1000,
                           resolveLinks: { links[$0] ?? $0 }, unixSockets: { sockets[$0] ?? [] },
                           pathKind: { kinds[$0] }, shebang: { shebangs[$0] })
    }

    static func compile(_ text: String = "extends: strict\n", context: HostContext = context(),
                        command: CommandPlan = Fixture.command, binds: [CommandLineBind] = [],
                        commandPosition: Int = 0) throws(CompileFailure) -> Compilation {
        try Fixture.compiler(["p.yaml": text], context: context)
            .compile(profile: "p.yaml", command: command,
                     overrides: CommandLineOverrides(binds: binds, commandPosition: commandPosition))
    }

    static func errors(_ text: String = "extends: strict\n", context: HostContext = context(),
                       command: CommandPlan = Fixture.command, binds: [CommandLineBind]) -> [Diagnostic] {
        do {
            _ = try compile(text, context: context, command: command, binds: binds)
            return []
        } catch {
            return error.diagnostics
        }
    }

    // MARK: 1. --ro, --rw, --tmpfs

    @Test func readOnlyBindIsMountedWithItsArgvPosition() throws {
        let plan = try Self.compile(binds: [CommandLineBind(.readOnly, "/srv/data", position: 3)]).plan
        let mount = try #require(plan.mounts.first { $0.target == "/srv/data" })
        #expect(mount.kind == .bind && mount.source == "/srv/data" && mount.isReadOnly)
        #expect(mount.origin == Origin(file: "command line", line: 3, detail: "--ro /srv/data"))
        #expect(PlanFormatter.text(plan).contains("[command line, argv[3]: --ro /srv/data]"))
        let json = PlanFormatter.json(plan)
        #expect(json.contains("\"detail\" : \"--ro /srv/data\""))
        #expect(json.contains("\"file\" : \"command line\""))
    }

    @Test func targetSizeAndRelativePaths() throws {
        let plan = try Self.compile(binds: [
            CommandLineBind(.readOnly, "/srv/a:b:/mnt/a", position: 1),
            CommandLineBind(.readWrite, "out", position: 3),
            CommandLineBind(.tmpfs, "/scratch:64M", position: 5),
            CommandLineBind(.readOnly, "~/notes", position: 7),
        ]).plan
        #expect(plan.mounts.contains { $0.kind == .bind && $0.source == "/srv/a:b" && $0.target == "/mnt/a" })
        let out = try #require(plan.mounts.first { $0.source == "/home/user/project/out" })
        #expect(!out.isReadOnly && out.target == "/home/user/project/out")
        let scratch = try #require(plan.mounts.first { $0.target == "/scratch" })
        #expect(scratch.kind == .tmpfs && scratch.options.size == 64 << 20 && scratch.options.noswap)
        #expect(plan.mounts.contains { $0.source == "/home/user/notes" && $0.target == "/home/user/notes" })
        // Parents first: the bind into the tmpfs home comes after the home.
        let home = try #require(plan.mounts.firstIndex { $0.kind == .tmpfs && $0.target == "/home/user" })
        let notes = try #require(plan.mounts.firstIndex { $0.target == "/home/user/notes" })
        #expect(home < notes)
    }

    @Test func sameRefusalsAsProfileBindsAtTheOptionsPosition() {
        let cases: [(CommandLineBind, String)] = [
            (CommandLineBind(.readOnly, "/home", position: 2), "would expose the home directory"),
            (CommandLineBind(.readOnly, "/", position: 2), "would expose the home directory"),
            (CommandLineBind(.readWrite, "/home/user/.config", position: 2), "lpa-run's own configuration"),
            (CommandLineBind(.readOnly, "/run/user", position: 2), "would expose the runtime directory"),
            (CommandLineBind(.readOnly, "/var/lib/docker", position: 2), "holds a unix socket"),
            (CommandLineBind(.readOnly, "/srv/x:/proc/x", position: 2), "cannot mount over '/proc/x'"),
            (CommandLineBind(.tmpfs, "/dev", position: 2), "cannot mount over '/dev'"),
            (CommandLineBind(.tmpfs, "scratch", position: 2), "is not absolute"),
            (CommandLineBind(.readOnly, "/srv/../etc", position: 2), "contains '..'"),
            (CommandLineBind(.readWrite, "/usr", position: 2), "'/usr' is already read-only at builtin:strict:"),
            (CommandLineBind(.tmpfs, "/home/user", position: 2), "already the sandbox's tmpfs home"),
        ]
        let context = Self.context(environment: ["XDG_RUNTIME_DIR": "/run/user/1000"],
                                   sockets: ["/var/lib/docker": ["/var/lib/docker/run/docker.sock"]])
        for (bind, expected) in cases {
            let errors = Self.errors(context: context, binds: [bind])
            #expect(errors.count == 1, "\(bind): \(errors)")
            let error = errors.first
            #expect(error?.message.contains(expected) == true, "\(bind): \(error?.message ?? "none")")
            #expect(error?.file == "command line" && error?.line == 2, "\(bind)")
            #expect(error?.description.contains("\(bind.kind.rawValue) \(bind.value)") == true)
        }
    }

    @Test func theHomeNamedExactlyIsSharedOnPurposeLikeInAProfile() throws {
        let plan = try Self.compile(binds: [CommandLineBind(.readOnly, "/home/user", position: 1)]).plan
        #expect(plan.mounts.contains { $0.kind == .bind && $0.source == "/home/user" && $0.isReadOnly })
    }

    @Test func conflictsBetweenOptionsNameTheFirstOne() {
        let errors = Self.errors(binds: [CommandLineBind(.readOnly, "/srv/a:/data", position: 1),
                                         CommandLineBind(.tmpfs, "/data", position: 3)])
        #expect(errors.map(\.line) == [3])
        #expect(errors.first?.message.contains("already read-only at command line, argv[1]: --ro /srv/a:/data") == true)
    }

    @Test func anExactRepeatOfAProfileBindIsAWarning() throws {
        let compilation = try Self.compile(binds: [CommandLineBind(.readOnly, "/usr", position: 4)])
        #expect(compilation.warnings.contains { $0.line == 4 && $0.message.contains("ignored") })
        #expect(compilation.plan.mounts.filter { $0.target == "/usr" }.count == 1)
    }

    @Test func readWriteBindsGetLandlockWriteRights() throws {
        let plan = try Self.compile(binds: [CommandLineBind(.readWrite, "/srv/out", position: 1)]).plan
        let index = try #require(plan.mounts.firstIndex { $0.target == "/srv/out" })
        let rule = try #require(plan.landlock.rules.first { $0.mount == index })
        #expect(rule.access.contains(.writeFile))
    }

    // MARK: 2. Python environments

    static let venvKinds: [String: HostPathKind] = ["/srv/proj/.venv/pyvenv.cfg": .file,
                                                    "/srv/proj/.venv": .directory,
                                                    "/srv/proj/.venv/bin": .directory,
                                                    "/srv/proj/.venv/lib": .directory,
                                                    "/srv/proj/.venv/lib64": .link]

    @Test func theEnvironmentOfAVenvInterpreterIsBoundReadOnly() throws {
        let command = CommandPlan(argv: ["/srv/proj/.venv/bin/python", "agent.py"],
                                  executable: "/srv/proj/.venv/bin/python")
        let plan = try Self.compile(context: Self.context(kinds: Self.venvKinds), command: command).plan
        // Its parts, not its root (which may be a project: `python3 -m venv .`), and no link.
        let parts = plan.mounts.filter { $0.origin?.file == "automatic" && $0.kind == .bind }.compactMap(\.source)
        #expect(parts == ["/srv/proj/.venv/pyvenv.cfg", "/srv/proj/.venv/bin", "/srv/proj/.venv/lib"])
        let mount = try #require(plan.mounts.first { $0.source == "/srv/proj/.venv/bin" })
        #expect(mount.kind == .bind && mount.isReadOnly && mount.target == "/srv/proj/.venv/bin")
        #expect(mount.origin?.detail?.contains("pyvenv.cfg") == true)
        #expect(PlanFormatter.text(plan).contains("[automatic: /srv/proj/.venv/bin/python runs in a Python virtual"))
        // The root covers the interpreter: no bind of the link itself.
        #expect(!plan.mounts.contains { $0.source == "/srv/proj/.venv/bin/python" })
    }

    @Test func condaEnvironmentsVirtualEnvAndShebangs() throws {
        let conda = CommandPlan(argv: ["python"], executable: "/opt/conda/envs/ml/bin/python")
        let condaKinds: [String: HostPathKind] = ["/opt/conda/envs/ml/conda-meta": .directory,
                                                  "/opt/conda/envs/ml/conda-meta/history": .file,
                                                  "/opt/conda/envs/ml/bin": .directory, "/opt/conda/envs/ml/lib": .directory,
                                                  "/opt/conda/envs/ml/.env": .file]
        var plan = try Self.compile(context: Self.context(kinds: condaKinds), command: conda).plan
        // Its parts, never its root (`conda create -p .` makes a project one: red team).
        #expect(plan.mounts.filter { $0.origin?.file == "automatic" && $0.kind == .bind }.compactMap(\.source)
                    == ["/opt/conda/envs/ml/bin", "/opt/conda/envs/ml/lib", "/opt/conda/envs/ml/conda-meta"])
        #expect(plan.mounts.contains { $0.source == "/opt/conda/envs/ml/bin" && $0.origin?.detail?.contains("conda") == true })
        // An empty conda-meta/ (shipped by a repository) is no environment.
        plan = try Self.compile(context: Self.context(kinds: ["/opt/conda/envs/ml/conda-meta": .directory,
                                                              "/opt/conda/envs/ml/bin": .directory]), command: conda).plan
        #expect(!plan.mounts.contains { $0.origin?.file == "automatic" && $0.kind == .bind })

        let python = CommandPlan(argv: ["python3"], executable: "/usr/bin/python3")
        plan = try Self.compile(context: Self.context(environment: ["VIRTUAL_ENV": "/srv/proj/.venv"],
                                                      kinds: Self.venvKinds), command: python).plan
        #expect(plan.mounts.contains { $0.source == "/srv/proj/.venv/lib" && $0.origin?.detail?.contains("VIRTUAL_ENV") == true })

        // An entry point inside the environment (bin/agent): the environment is the command's.
        let entry = CommandPlan(argv: ["/srv/proj/.venv/bin/agent"], executable: "/srv/proj/.venv/bin/agent")
        plan = try Self.compile(context: Self.context(kinds: Self.venvKinds,
                                                      shebangs: ["/srv/proj/.venv/bin/agent": "/srv/proj/.venv/bin/python"]),
                                command: entry).plan
        #expect(plan.mounts.contains { $0.source == "/srv/proj/.venv/bin" && $0.origin?.file == "automatic" })
        // A script elsewhere does not choose what is bound: a warning with the fix.
        let script = CommandPlan(argv: ["/srv/tools/agent"], executable: "/srv/tools/agent")
        let compilation = try Self.compile(context: Self.context(kinds: Self.venvKinds,
                                                                 shebangs: ["/srv/tools/agent": "/srv/proj/.venv/bin/python"]),
                                           command: script)
        #expect(!compilation.plan.mounts.contains { $0.source?.hasPrefix("/srv/proj/.venv") == true })
        #expect(compilation.warnings.contains { $0.message.contains("not binding /srv/proj/.venv automatically") })
        #expect(compilation.plan.mounts.contains { $0.source == "/srv/tools/agent" })  // the script itself, alone
    }

    @Test func noEnvironmentWithoutMarkersOrForOtherCommands() throws {
        let command = CommandPlan(argv: ["/srv/proj/.venv/bin/python"], executable: "/srv/proj/.venv/bin/python")
        // pyvenv.cfg as a link or a directory is not a marker (lstat, never followed).
        for kind in [HostPathKind.link, .directory] {
            let plan = try Self.compile(context: Self.context(kinds: ["/srv/proj/.venv/pyvenv.cfg": kind]),
                                        command: command).plan
            #expect(!plan.mounts.contains { $0.source == "/srv/proj/.venv" })
        }
        let node = CommandPlan(argv: ["node"], executable: "/usr/bin/node")
        let plan = try Self.compile(context: Self.context(environment: ["VIRTUAL_ENV": "/srv/proj/.venv"],
                                                          kinds: Self.venvKinds), command: node).plan
        #expect(!plan.mounts.contains { $0.source == "/srv/proj/.venv" })
    }

    @Test func neverTheHomeNorMoreThanTheRoot() throws {
        let command = CommandPlan(argv: ["python3"], executable: "/home/user/bin/python3")
        let compilation = try Self.compile(context: Self.context(kinds: ["/home/user/pyvenv.cfg": .file]),
                                           command: command)
        #expect(!compilation.plan.mounts.contains { $0.source == "/home/user" })
        #expect(compilation.warnings.contains { $0.message.contains("not binding /home/user") })
        // A venv inside the project: only the venv.
        let inProject = CommandPlan(argv: ["python"], executable: "/home/user/project/.venv/bin/python")
        let plan = try Self.compile(context: Self.context(kinds: ["/home/user/project/.venv/pyvenv.cfg": .file,
                                                                  "/home/user/project/.venv/lib": .directory]),
                                    command: inProject).plan
        #expect(plan.mounts.contains { $0.source == "/home/user/project/.venv/lib" })
        #expect(!plan.mounts.contains { $0.kind == .bind && $0.source == "/home/user/project" })
    }

    @Test func anInvisibleBaseInterpreterIsNamedWithTheFix() throws {
        let command = CommandPlan(argv: ["python"], executable: "/srv/proj/.venv/bin/python")
        let context = Self.context(kinds: Self.venvKinds,
                                   links: ["/srv/proj/.venv/bin/python": "/opt/py/3.12/bin/python3.12"])
        let compilation = try Self.compile(context: context, command: command)
        let warning = try #require(compilation.warnings.first { $0.message.contains("/opt/py/3.12/bin/python3.12") })
        #expect(warning.hint == "add --ro /opt/py/3.12")
        // Under /usr (bound by strict) nothing is said.
        let usual = Self.context(kinds: Self.venvKinds, links: ["/srv/proj/.venv/bin/python": "/usr/bin/python3.11"])
        #expect(try Self.compile(context: usual, command: command).warnings.isEmpty)
    }

    // MARK: 7. Model arguments and paths the sandbox cannot see

    static let presetLike = "extends: strict\nmodel-arguments: [-m, --model]\n"

    @Test func aModelArgumentBindsThatFileWithItsProvenance() throws {
        let command = CommandPlan(argv: ["llama-server", "-m", "/srv/models/m.gguf", "--port", "8080"],
                                  executable: "/opt/llama/bin/llama-server")
        let context = Self.context(kinds: ["/srv/models/m.gguf": .file, "/srv/models": .directory])
        let compilation = try Self.compile(Self.presetLike, context: context, command: command, commandPosition: 3)
        let mount = try #require(compilation.plan.mounts.first { $0.target == "/srv/models/m.gguf" })
        #expect(mount.source == "/srv/models/m.gguf" && mount.isReadOnly)
        #expect(mount.origin?.file == "command line" && mount.origin?.line == 5)
        #expect(mount.origin?.detail == "-m /srv/models/m.gguf, a model argument (p.yaml:2)")
        #expect(!compilation.plan.mounts.contains { $0.source == "/srv/models" })
        #expect(compilation.warnings.isEmpty)
    }

    @Test func modelArgumentFormsRelativeMissingAndHome() throws {
        let context = Self.context(kinds: ["/home/user/project/m.gguf": .file, "/srv/m.gguf": .file,
                                           "/home/user": .directory])
        var command = CommandPlan(argv: ["s", "--model=/srv/m.gguf", "-m", "m.gguf"], executable: "/opt/s")
        var plan = try Self.compile(Self.presetLike, context: context, command: command).plan
        #expect(plan.mounts.contains { $0.source == "/srv/m.gguf" && $0.target == "/srv/m.gguf" })
        // Relative: the host file under the working directory, at the path the command
        // will open from the sandbox's working directory (the tmpfs home here).
        #expect(plan.mounts.contains { $0.source == "/home/user/project/m.gguf" && $0.target == "/home/user/m.gguf" })

        command = CommandPlan(argv: ["s", "-m", "/srv/missing.gguf", "-m", "/home/user"], executable: "/opt/s")
        let compilation = try Self.compile(Self.presetLike, context: context, command: command)
        plan = compilation.plan
        #expect(!plan.mounts.contains { $0.source == "/srv/missing.gguf" || $0.source == "/home/user" })
        #expect(compilation.warnings.contains { $0.message.contains("not binding /home/user") })
    }

    @Test func theReadmeLineWarnsWithTheExactFix() throws {
        let command = CommandPlan(argv: ["llama-server", "-m", "/home/user/models/m.gguf", "--port", "8080"],
                                  executable: "/opt/llama/bin/llama-server")
        let context = Self.context(kinds: ["/home/user/models/m.gguf": .file])
        let compilation = try Self.compile(context: context, command: command, commandPosition: 3)
        let warning = try #require(compilation.warnings.first { $0.message.contains("cannot see") })
        #expect(warning.line == 5 && warning.file == "command line")
        #expect(warning.message.contains("/home/user is a fresh tmpfs inside"))
        #expect(warning.hint?.hasPrefix("add --model /home/user/models/m.gguf, or use a preset") == true)
        // The preset binds it (its ~/models, or the model argument): no warning.
        let preset = try Fixture.compiler([:], context: context)
            .compile(profile: "llama-server", command: command, overrides: .init(commandPosition: 3))
        #expect(!preset.warnings.contains { $0.message.contains("cannot see") })
    }

    @Test func unseenPathsOfEveryKind() throws {
        let command = CommandPlan(argv: ["tool", "/srv/data", "--config=/srv/c.toml", "/usr/share/x", "notes.txt",
                                         "/home/user/.config/lpa-run/x", "8080", "/srv/absent"],
                                  executable: "/usr/bin/tool")
        let context = Self.context(kinds: ["/srv/data": .directory, "/srv/c.toml": .file, "/usr/share/x": .file,
                                           "/home/user/project/notes.txt": .file,
                                           "/home/user/.config/lpa-run/x": .file])
        let warnings = try Self.compile(context: context, command: command).warnings
        func hint(_ word: String) -> String? { warnings.first { $0.sourceLine == word }?.hint }
        #expect(hint("/srv/data") == "add --ro /srv/data")
        #expect(hint("--config=/srv/c.toml") == "add --ro /srv/c.toml")
        #expect(hint("notes.txt") == "pass the absolute path /home/user/project/notes.txt and add --ro /home/user/project/notes.txt")
        #expect(hint("/home/user/.config/lpa-run/x") != nil)
        #expect(warnings.count == 4, "\(warnings)")
        // With the fix applied, nothing is said about it.
        let fixed = try Self.compile(context: context, command: command,
                                     binds: [CommandLineBind(.readOnly, "/srv/data", position: 1)]).warnings
        #expect(!fixed.contains { $0.sourceLine == "/srv/data" })
    }
}
