import Foundation
import Testing
@testable import LPAPolicy

/// Issue 11: what a plan may expose of the host, decided at compile time.
struct HostExposureTests {
    /// A context like the fixture's, with a working directory, extra variables and a view
    /// of the host (links, sockets) chosen by the test.
    static func context(cwd: String = "/home/user/project", uid: UInt32 = 1000, environment: [String: String] = [:],
                        links: [String: String] = [:], sockets: [String: [String]] = [:]) -> HostContext {
        var env = Fixture.context.environment
        for (k, v) in environment { env[k] = v }
        return HostContext(environment: env, cwd: cwd, uid: uid, gid: uid,
                           resolveLinks: { links[$0] ?? $0 }, unixSockets: { sockets[$0] ?? [] })
    }

    static func compile(_ text: String, context: HostContext = context(),
                        command: CommandPlan = Fixture.command) throws(CompileFailure) -> Compilation {
        try Fixture.compiler(["p.yaml": text], context: context).compile(profile: "p.yaml", command: command)
    }

    static func errors(_ text: String, context: HostContext = context()) -> [Diagnostic] {
        do {
            _ = try compile(text, context: context)
            return []
        } catch {
            return error.diagnostics
        }
    }

    // MARK: 1. Implicit binds, binds over the home, /tmp, /run, sockets

    @Test func anExecutableInTheHomeIsBoundAloneNeverTheHome() throws {
        let command = CommandPlan(argv: ["tool"], executable: "/home/user/tool")
        let plan = try Self.compile("extends: strict\n", command: command).plan
        let binds = plan.mounts.filter { $0.kind == .bind }
        #expect(binds.contains { $0.source == "/home/user/tool" && $0.target == "/home/user/tool" && $0.isReadOnly })
        #expect(!binds.contains { $0.source == "/home/user" })
        #expect(plan.mounts.contains { $0.kind == .tmpfs && $0.target == "/home/user" })
    }

    @Test func anExecutableInTmpIsBoundAloneNeverTmp() throws {
        let plan = try Self.compile("extends: strict\n", command: CommandPlan(argv: ["t"], executable: "/tmp/x/t")).plan
        let binds = plan.mounts.filter { $0.kind == .bind }.compactMap(\.source)
        #expect(binds.contains("/tmp/x/t"))
        #expect(!binds.contains("/tmp/x") && !binds.contains("/tmp"))
    }

    @Test func aCoveredOrPinnedExecutableIsNotBoundAgain() throws {
        let covered = try Self.compile("extends: strict\n", command: CommandPlan(argv: ["p"], executable: "/usr/bin/python3"))
        #expect(!covered.plan.mounts.contains { $0.source == "/usr/bin/python3" })
        let pinned = try Self.compile("extends: strict\npins:\n  executable: " + String(repeating: "ab", count: 32) + "\n")
        #expect(pinned.plan.mounts.filter { $0.source == Fixture.command.executable }.map(\.verified) == [true])
    }

    @Test(arguments: [
        ("/home", "the home directory (/home/user)"),
        ("/", "the home directory (/home/user)"),
        ("/run/user", "the runtime directory (XDG_RUNTIME_DIR) (/run/user/1000)"),
        ("/run", "the runtime directory (XDG_RUNTIME_DIR) (/run/user/1000)"),
    ])
    func aBindThatContainsAProtectedPathIsRefusedAtItsLine(_ path: String, _ exposed: String) {
        let context = Self.context(environment: ["XDG_RUNTIME_DIR": "/run/user/1000"])
        let errors = Self.errors("filesystem:\n  read-only:\n    - \(path)\n", context: context)
        #expect(errors.map { "\($0.line):\($0.column): \($0.message)" }
                == ["3:7: '\(path)' would expose \(exposed) to the sandbox"])
    }

    @Test(arguments: ["/home/user", "/tmp", "/run/user/1000"])
    func aBindNamingExactlyTheProtectedPathIsAllowed(_ path: String) throws {
        let context = Self.context(environment: ["XDG_RUNTIME_DIR": "/run/user/1000"])
        let plan = try Self.compile("filesystem:\n  read-only: [\(path)]\n", context: context).plan
        #expect(plan.mounts.contains { $0.kind == .bind && $0.source == path })
    }

    /// Named or not, no read-write bind may contain lpa-run's config or cache: a mask
    /// cannot hold in a tree the sandbox can rename.
    @Test func aReadWriteHomeIsRefusedForLpaRunsOwnConfig() {
        let errors = Self.errors("filesystem:\n  read-write: [/home/user]\n", context: Self.context(environment: [:]))
        #expect(errors.map(\.message)
                == ["'/home/user' read-write would let the sandbox write lpa-run's own configuration or cache "
                    + "(/home/user/.config/lpa-run)"])
    }

    @Test func aBindReachingTheHomeThroughALinkIsRefused() {
        let context = Self.context(links: ["/data/me": "/home/user"])
        let errors = Self.errors("filesystem:\n  read-only: [/data/me]\n", context: context)
        #expect(errors.map(\.message) == ["'/data/me' would expose the home directory (/home/user) to the sandbox"])
    }

    @Test(arguments: ["/home/user", "/home", "/tmp", "/"])
    func aWorkingDirectoryBindThatContainsAProtectedPathIsRefused(_ cwd: String) {
        for mode in ["read-only", "read-write"] {
            let errors = Self.errors("filesystem:\n  cwd: \(mode)\n", context: Self.context(cwd: cwd))
            #expect(errors.count == 1)
            #expect(errors.first.map { "\($0.line):\($0.column)" } == "2:8")
            #expect(errors.first?.message.hasPrefix("cwd: \(mode) would bind the working directory \(cwd)") == true)
        }
    }

    @Test func aProjectDirectoryStillWorksWithTheAgentPreset() throws {
        let plan = try Fixture.compiler(context: Self.context(cwd: "/home/user/project"))
            .compile(profile: "agent", command: Fixture.command).plan
        #expect(plan.mounts.contains { $0.source == "/home/user/project" && !$0.isReadOnly })
    }

    @Test func aBindHoldingAUnixSocketIsRefusedUnlessAllowed() throws {
        let context = Self.context(sockets: ["/srv/data": ["/srv/data/run/agent.sock"]])
        let errors = Self.errors("filesystem:\n  read-only: [/srv/data]\n", context: context)
        #expect(errors.map { "\($0.line):\($0.column)" } == ["2:15"])
        #expect(errors.first?.message.contains("holds a unix socket (/srv/data/run/agent.sock)") == true)
        #expect(errors.first?.hint?.contains("allow-sockets") == true)
        for allowed in ["/srv/data/run/agent.sock", "/srv/data/run"] {
            let text = "filesystem:\n  read-only: [/srv/data]\n  allow-sockets: [\(allowed)]\n"
            #expect(try Self.compile(text, context: context).plan.mounts.contains { $0.source == "/srv/data" })
        }
    }

    @Test func theWorkingDirectoryIsSearchedForSocketsToo() {
        let context = Self.context(sockets: ["/home/user/project": ["/home/user/project/.dev.sock"]])
        let errors = Self.errors("filesystem:\n  cwd: read-only\n", context: context)
        #expect(errors.first?.message.contains("/home/user/project/.dev.sock") == true)
    }

    // MARK: 4. lpa-run's own trust anchors

    @Test func everyPlanMasksLpaRunsConfigAndCaches() throws {
        for reference in GoldenTests.builtins {
            let plan = try Fixture.compiler().compile(profile: reference, command: Fixture.command).plan
            let hidden = Set(plan.mounts.filter { $0.kind == .hide }.map(\.target))
            #expect(hidden.isSuperset(of: ["/home/user/.config/lpa-run", "/home/user/.cache/lpa-run", "/etc/lpa-run"]))
        }
        let context = Self.context(environment: ["XDG_CONFIG_HOME": "/cfg", "XDG_CACHE_HOME": "/var/cache/me"])
        let plan = try Self.compile("{}\n", context: context).plan
        let hidden = Set(plan.mounts.filter { $0.kind == .hide }.map(\.target))
        #expect(hidden.isSuperset(of: ["/cfg/lpa-run", "/var/cache/me/lpa-run", "/etc/lpa-run"]))
    }

    @Test(arguments: ["/home/user/.config", "/home/user/.config/lpa-run", "/home/user/.cache/lpa-run/x"])
    func aReadWriteWorkingDirectoryOverLpaRunsConfigIsRefused(_ cwd: String) throws {
        let errors = Self.errors("filesystem:\n  cwd: read-write\n", context: Self.context(cwd: cwd))
        #expect(errors.map(\.message).first?.hasPrefix("cwd: read-write would let the sandbox write lpa-run's own") == true)
        #expect(try Self.compile("filesystem:\n  cwd: read-only\n", context: Self.context(cwd: cwd)).plan.mounts
            .contains { $0.source == cwd })
    }

    @Test func builtinProfilesExtendBuiltinsByThePrefix() throws {
        for reference in GoldenTests.builtins {
            let text = try #require(BuiltinProfiles.texts[reference])
            for line in text.split(separator: "\n") where line.hasPrefix("extends:") {
                #expect(line.hasPrefix("extends: builtin:"), "\(reference): \(line)")
            }
        }
    }

    @Test func aFileNamedLikeABuiltinCannotWeakenThePresets() throws {
        let planted = LoadedProfile(name: "strict", path: "/home/user/.config/lpa-run/profiles/strict.yaml",
                                    text: "network: {mode: host}\nhostname: planted\n")
        let compiler = PolicyCompiler(loader: InMemoryProfileLoader(profiles: [planted]), context: Fixture.context)
        let agent = try compiler.compile(profile: "agent", command: Fixture.command)
        #expect(agent.plan.hostname == "lpa-sandbox")
        #expect(agent.plan.network.mode == .none)
        #expect(agent.plan.profile.chain.map(\.source) == ["builtin:agent", "builtin:strict"])
        #expect(agent.warnings.isEmpty)
        // Asked for by name, the file wins, with a warning that says so.
        let strict = try compiler.compile(profile: "strict", command: Fixture.command)
        #expect(strict.plan.hostname == "planted")
        #expect(strict.warnings.map(\.message)
                == ["the profile file /home/user/.config/lpa-run/profiles/strict.yaml shadows the built-in profile 'strict'"])
        #expect(strict.warnings.first?.hint?.contains("builtin:strict") == true)
    }

    @Test func theFileLoaderTakesTheBuiltinPrefixAsTheEmbeddedProfileOnly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lpa-policy-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let profiles = directory.appendingPathComponent("lpa-run/profiles")
        try FileManager.default.createDirectory(at: profiles, withIntermediateDirectories: true)
        try "hostname: planted\n".write(to: profiles.appendingPathComponent("strict.yaml"), atomically: true, encoding: .utf8)
        let loader = FileProfileLoader(environment: ["HOME": "/nonexistent", "XDG_CONFIG_HOME": directory.path], cwd: "/")
        #expect(try loader.load("strict", from: nil).path == profiles.path + "/strict.yaml")
        #expect(try loader.load("builtin:strict", from: nil) == LoadedProfile(name: "strict", path: "builtin:strict",
                                                                              text: BuiltinProfiles.texts["strict"]!))
        #expect(throws: ProfileLoadError.self) { try loader.load("builtin:strcit", from: nil) }
        // A relative XDG_CONFIG_HOME is ignored (XDG spec), as the sandbox mask assumes.
        #expect(FileProfileLoader(environment: ["HOME": "/h", "XDG_CONFIG_HOME": "cfg"], cwd: "/").searchDirectories.first
                == "/h/.config/lpa-run/profiles")
    }

    // MARK: 6. A root caller's workload is not host root

    @Test func aRootCallerRunsAsTheSudoUserOrNobody() throws {
        let sudo = Self.context(uid: 0, environment: ["SUDO_UID": "1001", "SUDO_GID": "1002"])
        let caller = try Self.compile("{}\n", context: sudo).plan.identity
        #expect([caller.uid, caller.gid, caller.sandboxUid, caller.sandboxGid] == [1001, 1002, 1001, 1002])
        let root = try Self.compile("run-as: root\n", context: sudo).plan.identity
        #expect([root.uid, root.gid, root.sandboxUid, root.sandboxGid] == [1001, 1002, 0, 0])
        for environment in [[:], ["SUDO_UID": "0", "SUDO_GID": "0"], ["SUDO_UID": "x"]] {
            let identity = try Self.compile("{}\n", context: Self.context(uid: 0, environment: environment)).plan.identity
            #expect([identity.uid, identity.gid] == [65534, 65534], "\(environment)")
        }
        let user = try Self.compile("{}\n", context: Self.context(uid: 1000, environment: ["SUDO_UID": "5"])).plan
        #expect([user.identity.uid, user.identity.sandboxUid] == [1000, 1000])
    }

    @Test func procInternalsAreMaskedForEveryCaller() throws {
        for uid: UInt32 in [0, 1000] {
            let plan = try Self.compile("{}\n", context: Self.context(uid: uid)).plan
            let hidden = Set(plan.mounts.filter { $0.kind == .hide }.map(\.target))
            for entry in ["kpageflags", "kpagecount", "kpagecgroup", "keys", "timer_list", "sched_debug", "kcore"] {
                #expect(hidden.contains("/proc/" + entry), "uid \(uid): /proc/\(entry)")
            }
        }
    }

    // MARK: 10. Calls the launcher makes after the filter is loaded

    @Test func denyingSendmsgIsAnErrorAtItsLineNotAHang() {
        let errors = Self.errors("extends: strict\nseccomp:\n  deny: [sendmsg]\n")
        #expect(errors.map { "\($0.file):\($0.line):\($0.column)" } == ["p.yaml:3:10"])
        #expect(errors.first?.message
                == "'sendmsg' is denied (errno(EPERM)), but lpa-run calls it in the sandbox after loading the filter, "
                + "to hand the audit listener to lpa-run: the launch would hang")
    }

    @Test(arguments: ["close", "execve", "@system, execve"])
    func denyingWhatTheLauncherNeedsIsAnError(_ list: String) {
        let errors = Self.errors("extends: strict\nseccomp:\n  deny: [\(list)]\n")
        #expect(errors.count == 1)
        #expect(errors.first?.line == 3)
    }

    @Test func aRuleThatDeniesSomeArgumentsOfCloseIsAnErrorToo() {
        let errors = Self.errors("extends: strict\nseccomp:\n  rules:\n    - {syscall: close, action: deny, args: [{index: 0, op: gt, value: 2}]}\n")
        #expect(errors.map(\.line) == [4])
        #expect(errors.first?.message.hasPrefix("'close' is denied for some arguments") == true)
    }

    @Test func aDefaultDenyAllowlistMustAllowTheLaunchersCalls() throws {
        let errors = Self.errors("extends: strict\nseccomp:\n  default: kill\n  deny: {replace: []}\n  allow: [read, write]\n")
        // The filter has an audit listener (clone3 answers ENOSYS), so all three are needed.
        #expect(errors.map(\.message).map { $0.prefix(while: { $0 != " " }) } == ["'execve'", "'sendmsg'", "'close'"])
        #expect(Set(errors.map(\.line)) == [3])
        let allowed = "extends: strict\nseccomp:\n  default: kill\n  deny: {replace: []}\n  allow: [read, write, execve, sendmsg, close]\n"
        #expect(throws: Never.self) { try Self.compile(allowed) }
    }

    @Test func withoutAnAuditListenerOnlyExecveIsNeeded() throws {
        // No errno rule and no private network: nothing is audited, nothing is handed over.
        let text = "network: {mode: host}\nseccomp:\n  default: kill\n  allow: [read, write, execve]\n"
        let compilation = try Self.compile(text)
        #expect(compilation.plan.audit.calls.isEmpty)
    }

    // MARK: 11. /dev/shm

    @Test func devShmIsBoundedAndNoswap() throws {
        func shm(_ text: String) throws -> MountOptions? {
            try Self.compile(text).plan.mounts.first { $0.target == "/dev/shm" }?.options
        }
        #expect(try shm("{}\n")?.size == 1 << 30)
        #expect(try shm("filesystem: {tmpfs-size: 256M}\n")?.size == 256 << 20)
        #expect(try shm("filesystem: {tmpfs-size: 256M, shm-size: 2G}\n")?.size == 2 << 30)
        #expect(try shm("{}\n")?.noswap == true)
        #expect(try shm("filesystem: {noswap: false}\n")?.noswap == false)
    }

    // MARK: 14. personality, fanotify, socketpair

    @Test func personalityRulesDenyExactlyWhatDockerDenies() {
        let allowed = SymbolicConstants.personalityFlags["PER_LINUX32"]! | SymbolicConstants.personalityFlags["UNAME26"]!
        let rules = PersonalityRules.deniedValues(allowedFlags: allowed)
        #expect(rules.count == 32)
        func denied(_ x: UInt32) -> Bool { rules.contains { UInt64(x) & $0.mask == $0.value } }
        var samples: [UInt32] = [0, 8, 0x20000, 0x20008, 0xffff_ffff, 0x40_0000, 0x4_0000, 1, 0x20009, 0xffff_fffe,
                                 0x7fff_ffff, 0x8000_0000, 0x0040_0008, 0x0002_0001]
        samples += (0..<32).map { UInt32(1) << UInt32($0) } + (0..<32).map { ~(UInt32(1) << UInt32($0)) }
        var generator = SystemRandomNumberGenerator()
        samples += (0..<20000).map { _ in UInt32.random(in: .min ... .max, using: &generator) }
        for x in samples {
            #expect(denied(x) == !PersonalityRules.isAllowed(x, allowedFlags: allowed), "personality(\(x))")
        }
    }

    @Test func personalityRulesCoverAnyFlagSet() {
        var generator = SystemRandomNumberGenerator()
        for flags: UInt64 in [0, 0xffff_ffff, 0x8000_0001, 0x20008, 1, 0x7fff_ffff] {
            let rules = PersonalityRules.deniedValues(allowedFlags: flags)
            for _ in 0..<2000 {
                let x = UInt32.random(in: .min ... .max, using: &generator)
                let denied = rules.contains { UInt64(x) & $0.mask == $0.value }
                #expect(denied == !PersonalityRules.isAllowed(x, allowedFlags: flags), "flags \(flags), personality(\(x))")
            }
        }
    }

    @Test func strictDeniesFanotifyAndCoversSocketpairAndPersonality() throws {
        let plan = try Fixture.compiler().compile(profile: "strict", command: Fixture.command).plan
        let rules = plan.seccomp.rules
        #expect(rules.contains { $0.syscall == "fanotify_init" && $0.args.isEmpty && $0.action != .allow })
        let socket = rules.filter { $0.syscall == "socket" }.map(\.args)
        #expect(!socket.isEmpty && rules.filter { $0.syscall == "socketpair" }.map(\.args) == socket)
        let personality = rules.filter { $0.syscall == "personality" }
        #expect(personality.count == 32 && personality.allSatisfy { $0.args.first?.width == 32 })
    }

    @Test func anAllowlistAllowsOnlyTheListedPersonas() throws {
        let text = "extends: strict\nseccomp:\n  default: deny\n  deny: {replace: []}\n  allow: [execve, sendmsg, close, personality]\n"
        let rules = try Self.compile(text).plan.seccomp.rules.filter { $0.syscall == "personality" }
        #expect(rules.map(\.action) == [.allow, .allow])
        #expect(rules.map { $0.args.first?.mask } == [0xfffd_fff7, 0xffff_ffff])
    }
}
