import Testing
@testable import LPAPolicy

/// Each kind of mistake yields one exact message at the offending node.
struct DiagnosticTests {
    /// The single error of `text`, as "line:column: message".
    func only(_ text: String, overrides: CommandLineOverrides = .init()) -> String {
        let errors = Fixture.errors(text, overrides: overrides)
        #expect(errors.count == 1, "expected one error, got \(errors.map(\.description))")
        return errors.first.map { "\($0.line):\($0.column): \($0.message)" } ?? ""
    }

    @Test func misspelledKeyRendersWithSourceLineAndCaret() {
        let errors = Fixture.errors("extends: strict\nfilesystem:\n  tmpfs: [/tmp]\nseccomp:\n  default: allow\n\nnetwrok:\n  mode: none\n")
        #expect(errors.count == 1)
        #expect(errors.first?.description == "p.yaml:7:1: error: unknown key 'netwrok' (did you mean 'network'?)\nnetwrok:\n^")
    }

    @Test func caretFollowsTheQuotedLinesIndentation() {
        let d = Diagnostic(file: "strict.yaml", line: 7, column: 3, message: "unknown key 'netwrok' (did you mean 'network'?)",
                           sourceLine: "  netwrok:")
        #expect(d.description == "strict.yaml:7:3: error: unknown key 'netwrok' (did you mean 'network'?)\n  netwrok:\n  ^")
    }

    @Test func nestedUnknownKeyPointsAtTheKey() {
        #expect(only("filesystem:\n  read-olny: [/usr]\n") == "2:3: unknown key 'read-olny' (did you mean 'read-only'?)")
    }

    @Test func wrongTypeIsReported() {
        #expect(only("filesystem:\n  read-only: /usr\n") == "2:14: 'read-only' must be a list, not a scalar")
    }

    @Test func duplicateKeyPointsAtTheRepeat() {
        #expect(only("hostname: a\nrun-as: caller\nhostname: b\n") == "3:1: duplicate key 'hostname'")
    }

    @Test func unknownSyscallSuggestsTheClosest() {
        #expect(only("seccomp:\n  deny: [ptrac]\n") == "2:10: unknown syscall 'ptrac' (did you mean 'ptrace'?)")
    }

    @Test func unknownGroupSuggestsTheClosest() {
        #expect(only("seccomp:\n  deny: [\"@mnt\"]\n") == "2:10: unknown syscall group '@mnt' (did you mean '@mount'?)")
    }

    @Test func unknownCapabilitySuggestsTheClosest() {
        #expect(only("capabilities: [net_bind_servce]\n") == "1:16: unknown capability 'net_bind_servce' (did you mean 'CAP_NET_BIND_SERVICE'?)")
    }

    @Test func pathBothReadOnlyAndReadWriteIsAnError() {
        #expect(only("filesystem:\n  read-only: [/data]\n  read-write: [/data]\n") == "3:16: '/data' is both read-only and read-write")
    }

    @Test func publishWithHostNetworkIsAnError() {
        #expect(only("network:\n  mode: host\n  publish: [\"8080:80\"]\n") == "2:9: network mode 'host' cannot be combined with publish or connect")
    }

    @Test func relativePathAfterExpansionIsAnError() {
        #expect(only("filesystem:\n  read-only: [data/models]\n") == "2:15: path 'data/models' is not absolute")
    }

    @Test func dotDotInPathIsAnError() {
        #expect(only("filesystem:\n  read-only: [\"/usr/../etc\"]\n") == "2:15: path '/usr/../etc' contains '..'")
    }

    @Test func undefinedVariableIsAnErrorWithPosition() {
        #expect(only("filesystem:\n  read-only: [\"${NOPE}/x\"]\n") == "2:15: undefined variable '${NOPE}'")
    }

    @Test func badSizeIsAnError() {
        #expect(only("filesystem:\n  tmpfs-size: 512Q\n") == "2:15: bad size '512Q': expected a number with an optional unit K, M, G or T")
    }

    @Test func badPortIsAnError() {
        #expect(only("network:\n  publish: [\"70000:80\"]\n") == "2:13: bad port '70000' in '70000:80': expected 1-65535")
    }

    @Test func nonLoopbackConnectIsAnError() {
        #expect(only("network:\n  connect: [\"10.0.0.1:80\"]\n") == "2:13: connect address '10.0.0.1' is not loopback")
    }

    @Test func nonLoopbackPublishNeedsTheOverride() {
        let text = "network:\n  publish: [\"0.0.0.0:8080:80\"]\n"
        #expect(only(text) == "2:13: publish address '0.0.0.0' is not loopback")
        #expect(Fixture.errors(text, overrides: .init(allowNonLoopbackPublish: true)).isEmpty)
    }

    @Test func raisingCoreRlimitIsAnError() {
        #expect(only("rlimits: {core: 1M}\n") == "1:17: rlimit 'core' cannot be raised: it is always 0")
    }

    @Test func removingUserNamespaceIsAnError() {
        #expect(only("namespaces: {replace: [mount, pid, net]}\n") == "1:13: namespace 'user' cannot be removed")
    }

    /// Found by `check` and `--dry-run`, not first at run time.
    @Test func networkNoneWithoutNetNamespaceIsAnError() {
        #expect(only("namespaces: {replace: [user, mount, pid]}\n")
                == "1:13: network mode 'none' needs the 'net' namespace")
    }

    @Test func extendsCycleShowsTheCycle() {
        let compiler = Fixture.compiler(["a.yaml": "extends: ./b.yaml\n", "b.yaml": "extends: ./a.yaml\n"])
        #expect(throws: CompileFailure.self) {
            try compiler.compile(profile: "a.yaml", command: Fixture.command)
        }
        let diagnostics = compiler.check(file: "a.yaml")
        #expect(diagnostics.map(\.message) == ["extends cycle: a -> b -> a"])
        #expect(diagnostics.first.map { "\($0.file):\($0.line):\($0.column)" } == "b.yaml:1:10")
    }

    @Test func unknownParentProfileIsAnErrorAtTheExtendsValue() {
        #expect(only("extends: stirct\n") == "1:10: no profile named 'stirct' (did you mean 'strict'?)")
    }

    @Test func everyErrorInAFileIsReported() {
        let text = "netwrok: {}\nfilesystem:\n  tmpfs-size: 9X\nseccomp:\n  deny: [nosuchcall]\ncapabilities: [cap_bogus]\n"
        let lines = Fixture.errors(text).map(\.line)
        #expect(lines == [1, 3, 5, 6])
    }

    @Test func yamlSyntaxErrorHasAPosition() {
        let errors = Fixture.errors("filesystem:\n  read-only: [/usr\n")
        #expect(errors.count == 1)
        #expect(errors.first?.message.hasPrefix("YAML:") == true)
        #expect((errors.first?.line ?? 0) > 0)
    }

    @Test func badCommandLinePublishNamesTheOption() {
        let errors = Fixture.errors("{}\n", overrides: .init(publish: ["80"]))
        #expect(errors.map(\.description) == ["--publish: error: bad publish '80': expected [HOST_IP:]HOST_PORT:SANDBOX_PORT"])
    }
}
