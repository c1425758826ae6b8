import Testing
@testable import LPAPolicy

struct SizeTests {
    @Test func sizesUsePowersOf1024() throws {
        #expect(try SizeParser.parse("512M") == 512 << 20)
        #expect(try SizeParser.parse("1G") == 1 << 30)
        #expect(try SizeParser.parse("64g") == 64 << 30)
        #expect(try SizeParser.parse("4096") == 4096)
        #expect(try SizeParser.parse("2KiB") == 2048)
    }

    @Test func unknownUnitIsRejected() {
        #expect(throws: SizeParser.Failure.self) { try SizeParser.parse("512Q") }
        #expect(throws: SizeParser.Failure.self) { try SizeParser.parse("M") }
    }
}

struct VariableTests {
    let expander = VariableExpander(context: Fixture.context)

    @Test func builtInVariablesExpand() throws {
        #expect(try expander.expandPath("~/x") == "/home/user/x")
        #expect(try expander.expand("${CWD}/out") == "/home/user/project/out")
        #expect(try expander.expand("${UID}:${USER}") == "1000:user")
        #expect(try expander.expand("${XDG_CACHE_HOME}") == "/home/user/.cache")
        #expect(try expander.expand("${TMPDIR}") == "/tmp")
    }

    @Test func defaultAppliesOnlyWhenUnsetOrEmpty() throws {
        #expect(try expander.expand("${NOPE:-/srv}") == "/srv")
        #expect(try expander.expand("${HOME:-/srv}") == "/home/user")
    }

    @Test func undefinedVariableIsAnError() {
        #expect(throws: VariableExpander.Failure(message: "undefined variable '${NOPE}'")) { try expander.expand("${NOPE}") }
    }

    @Test func pathsAreNormalized() throws {
        #expect(try PathNormalizer.normalize("/usr//lib/./x/") == "/usr/lib/x")
        #expect(throws: PathNormalizer.Failure.self) { try PathNormalizer.normalize("/a/../b") }
    }
}

struct EndpointTests {
    @Test func publishDefaultsToLoopback() throws {
        let port = try EndpointParser.publish("8080:80")
        #expect(port == PublishedPort(hostAddress: "127.0.0.1", hostPort: 8080, sandboxPort: 80))
    }

    @Test func publishAcceptsAnAddressAndIPv6() throws {
        #expect(try EndpointParser.publish("127.0.0.2:8081:80").hostAddress == "127.0.0.2")
        #expect(try EndpointParser.publish("[::1]:8081:80") == PublishedPort(hostAddress: "::1", hostPort: 8081, sandboxPort: 80))
    }

    @Test func connectSandboxPortDefaultsToHostPort() throws {
        #expect(try EndpointParser.connect("127.0.0.1:9000") == HostEndpoint(hostAddress: "127.0.0.1", hostPort: 9000, sandboxPort: 9000))
        #expect(try EndpointParser.connect("127.0.0.1:9000:9001").sandboxPort == 9001)
    }

    @Test func connectRejectsNonLoopbackAndNames() {
        #expect(throws: EndpointParser.Failure.self) { try EndpointParser.connect("192.168.1.1:80") }
        #expect(throws: EndpointParser.Failure.self) { try EndpointParser.connect("localhost:80") }
    }

    @Test func loopbackIsWholeSlash8AndIPv6One() {
        #expect(EndpointParser.isLoopback("127.1.2.3"))
        #expect(EndpointParser.isLoopback("0:0:0:0:0:0:0:1"))
        #expect(!EndpointParser.isLoopback("128.0.0.1"))
        #expect(!EndpointParser.isLoopback("::"))
    }

    @Test func ipv4MappedLoopbackIsLoopback() {
        #expect(EndpointParser.isLoopback("::ffff:127.0.0.1"))
        #expect(EndpointParser.isLoopback("::ffff:127.9.8.7"))
        #expect(!EndpointParser.isLoopback("::ffff:10.0.0.1"))
        #expect(!EndpointParser.isLoopback("::127.0.0.1"))
    }
}

struct EnvironmentTests {
    @Test func secretsAreDroppedEvenWhenKept() throws {
        let plan = try Fixture.compile("environment:\n  keep: [\"*\"]\n")
        let names = plan.environment.set.map(\.name)
        #expect(names.contains("EDITOR"))
        #expect(!names.contains("OPENAI_API_KEY"))
        #expect(!names.contains("SSH_AUTH_SOCK"))
        #expect(!names.contains("http_proxy"))
        #expect(plan.environment.dropped == ["OPENAI_API_KEY", "SSH_AUTH_SOCK", "http_proxy"])
    }

    @Test func allowSecretsAndEnvOverridePassSecrets() throws {
        let plan = try Fixture.compile("environment:\n  keep: [\"*\"]\n  allow-secrets: [SSH_AUTH_SOCK]\n",
                                       overrides: .init(env: ["OPENAI_API_KEY", "MODE=fast"]))
        let values = Dictionary(uniqueKeysWithValues: plan.environment.set.map { ($0.name, $0.value) })
        #expect(values["SSH_AUTH_SOCK"] == "/run/user/1000/ssh")
        #expect(values["OPENAI_API_KEY"] == "sk-test-not-a-real-key")
        #expect(values["MODE"] == "fast")
    }

    @Test func secretNamesMatchTheRules() {
        for name in ["MY_TOKEN", "db_password", "AWS_REGION", "HF_TOKEN", "HTTPS_PROXY", "no_proxy", "DISPLAY"] {
            #expect(SecretNames.isSecret(name), "\(name)")
        }
        for name in ["PATH", "LANG", "TERM", "HOME"] { #expect(!SecretNames.isSecret(name), "\(name)") }
        // Non-ASCII names keep Unicode upper-casing ("ß" is "SS"); short names near the lists.
        for name in ["paßword_file", "my_tokén_TOKEN", "xauthority", "wayland_display", "AWS_"] {
            #expect(SecretNames.isSecret(name), "\(name)")
        }
        for name in ["TOKE", "AWS", "PROXY", "_PROX", "", "é"] { #expect(!SecretNames.isSecret(name), "\(name)") }
    }

    /// `ErrnoNames.number` (a switch, for start-up) says exactly what the usable table says.
    @Test func errnoNumbersMatchTheTable() {
        for (name, number) in ErrnoNames.table { #expect(ErrnoNames.number(name) == number, "\(name)") }
        for (number, name) in ErrnoNames.known where ErrnoNames.table[name] == nil {
            #expect(ErrnoNames.number(name) == nil, "\(name) (\(number)) is not usable in a profile")
        }
        #expect(ErrnoNames.number("eperm") == nil && ErrnoNames.number("") == nil)
    }

    /// Byte matching (ASCII) must agree with Character matching on every case.
    @Test func nameGlobsMatchLikeShellPatterns() {
        let cases: [(String, String, Bool)] = [
            ("*", "", true), ("*", "ANY", true), ("?", "", false), ("?", "A", true), ("A*", "A", true),
            ("A*B", "AXXB", true), ("A*B", "AXXBC", false), ("*_KEY", "OPENAI_API_KEY", true),
            ("LC_*", "LC_ALL", true), ("LC_*", "LANG", false), ("a?c*", "abcdef", true), ("**", "x", true),
            ("*a*a*", "banana", true), ("*x*", "banana", false), ("É*", "ÉCOLE", true), ("?", "é", true),
            ("?", "e\u{301}", true), ("A?", "Aé", true),
        ]
        for (pattern, name, expected) in cases {
            #expect(NameGlob.matches(pattern, name) == expected, "\(pattern) ~ \(name)")
        }
    }

    @Test func sandboxHomeVariablesOverrideTheHost() throws {
        let plan = try Fixture.compile("environment:\n  set: {GREETING: \"hi ${USER}\"}\n")
        let values = Dictionary(uniqueKeysWithValues: plan.environment.set.map { ($0.name, $0.value) })
        #expect(values["HOME"] == "/home/user")
        #expect(values["TMPDIR"] == "/tmp")
        #expect(values["XDG_STATE_HOME"] == "/home/user/.local/state")
        #expect(values["GREETING"] == "hi user")
        #expect(plan.environment.set.first { $0.name == "GREETING" }?.origin == Origin(file: "p.yaml", line: 2))
    }
}

struct MergeTests {
    func compile(_ child: String, parent: String) throws -> IsolationPlan {
        try Fixture.compiler(["parent.yaml": parent, "child.yaml": child])
            .compile(profile: "child.yaml", command: Fixture.command).plan
    }

    @Test func listsAreAppendedWithoutDuplicates() throws {
        let plan = try compile("extends: ./parent.yaml\nfilesystem:\n  read-only: [/opt, /usr]\n",
                               parent: "filesystem:\n  read-only: [/usr]\n")
        #expect(plan.mounts.filter { $0.kind == .bind }.map(\.target) == ["/usr", "/opt"])
    }

    @Test func replaceReplacesTheParentList() throws {
        let plan = try compile("extends: ./parent.yaml\nfilesystem:\n  read-only: {replace: [/opt]}\n",
                               parent: "filesystem:\n  read-only: [/usr]\n")
        #expect(plan.mounts.filter { $0.kind == .bind }.map(\.target) == ["/opt"])
    }

    @Test func scalarsAndMapEntriesFromTheChildWin() throws {
        let plan = try compile("extends: ./parent.yaml\nhostname: child\nrlimits: {nofile: 10}\n",
                               parent: "hostname: parent\nrlimits: {nofile: 5, nproc: 7}\n")
        #expect(plan.hostname == "child")
        #expect(plan.rlimits.map { "\($0.resource)=\($0.soft ?? 0)" } == ["core=0", "nofile=10", "nproc=7"])
    }

    @Test func childAllowRemovesAnInheritedDeny() throws {
        let plan = try compile("extends: ./parent.yaml\nseccomp:\n  allow: [ptrace]\n",
                               parent: "seccomp:\n  deny: [\"@debug\"]\n")
        let denied = plan.seccomp.rules.map(\.syscall)
        #expect(!denied.contains("ptrace"))
        #expect(denied.contains("process_vm_readv"))
    }

    @Test func parentsApplyInListOrder() throws {
        let plan = try Fixture.compiler(["a.yaml": "hostname: a\n", "b.yaml": "hostname: b\n",
                                         "c.yaml": "extends: [./a.yaml, ./b.yaml]\n"])
            .compile(profile: "c.yaml", command: Fixture.command).plan
        #expect(plan.hostname == "b")
        #expect(plan.profile.chain.map(\.name) == ["c", "b", "a"])
    }
}

struct PlanTests {
    @Test func executableDirectoryInsideABindIsNotBoundAgain() throws {
        let plan = try Fixture.compile("filesystem:\n  read-only: [/opt]\n")
        #expect(!plan.mounts.contains { $0.target == "/opt/llama/bin" })
    }

    @Test func executableOutsideTheBindsIsBoundAsAFileNotItsDirectory() throws {
        let plan = try Fixture.compile("filesystem:\n  read-only: [/usr]\n")
        #expect(!plan.mounts.contains { $0.target == "/opt/llama/bin" })
        let entry = plan.mounts.first { $0.target == "/opt/llama/bin/llama-server" }
        #expect(entry == MountEntry(kind: .bind, source: "/opt/llama/bin/llama-server",
                                    target: "/opt/llama/bin/llama-server", options: .readOnlyBind))
    }

    @Test func digestIgnoresCommandAndEnvironmentValues() throws {
        let a = try Fixture.compile("hostname: x\n")
        let b = try Fixture.compile("\nhostname: x\n", command: CommandPlan(argv: ["other"], executable: "/opt/llama/bin/other"))
        #expect(a.profile.digest == b.profile.digest)
        #expect(a.profile.digest.hasPrefix("sha256:"))
        let c = try Fixture.compile("hostname: y\n")
        #expect(a.profile.digest != c.profile.digest)
    }

    @Test func hostNetworkDropsTheNetNamespace() throws {
        let plan = try Fixture.compile("network: {mode: host}\n")
        #expect(!plan.namespaces.contains(.net))
    }

    @Test func ioctlRuleComparesTheLow32Bits() throws {
        let plan = try Fixture.compile("seccomp:\n  ioctl-deny: [TIOCSTI]\n")
        let rule = try #require(plan.seccomp.rules.first { $0.syscall == "ioctl" })
        #expect(rule.args == [ArgCondition(index: 1, op: .maskedEq, value: 0x5412, mask: 0xffff_ffff, width: 32)])
    }

    @Test func socketFamiliesDenyEveryOtherFamily() throws {
        let plan = try Fixture.compile("seccomp:\n  socket-families: [unix, inet]\n")
        let conditions = plan.seccomp.rules.filter { $0.syscall == "socket" }.flatMap(\.args).map { "\($0.op.rawValue) \($0.value)" }
        #expect(conditions == ["eq 0", "ge 3"])
    }

    @Test func conditionalRulesForADeniedSyscallAreDropped() throws {
        let compilation = try Fixture.compiler(["p.yaml": "seccomp:\n  deny: [personality]\n  rules:\n    - {syscall: personality, action: allow, args: [{index: 0, op: eq, value: 0}]}\n"])
            .compile(profile: "p.yaml", command: Fixture.command)
        #expect(compilation.plan.seccomp.rules.filter { $0.syscall == "personality" }.count == 1)
        #expect(compilation.warnings.count == 1)
    }

    @Test func textPlanListsTheSections() throws {
        let text = PlanFormatter.text(try Fixture.compile("extends: strict\n"))
        for heading in ["\nfilesystem\n", "\nnetwork\n", "\nseccomp\n", "\nenvironment\n"] { #expect(text.contains(heading)) }
    }
}
