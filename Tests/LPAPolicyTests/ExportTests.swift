import Foundation
import Testing
@testable import LPAPolicy

/// `lpa-run export`: each built-in profile's documents and parity table per target match
/// the checked-in files in Fixtures/export/PROFILE/TARGET/ (`LPA_UPDATE_GOLDENS=1`
/// rewrites them), and the mapping keeps what the plan says.
struct ExportTests {
    static func plan(_ profile: String, overrides: CommandLineOverrides = .init()) throws -> IsolationPlan {
        let compiler = PolicyCompiler(loader: InMemoryProfileLoader(), context: Fixture.context)
        return try compiler.compile(profile: profile, command: Fixture.command, overrides: overrides).plan
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test(arguments: GoldenTests.builtins)
    func everyTargetOfEveryBuiltinMatchesItsGolden(_ profile: String) throws {
        let plan = try Self.plan(profile, overrides: CommandLineOverrides(publish: ["8080:8080"]))
        let environment = ProcessInfo.processInfo.environment
        for target in ExportTarget.allCases {
            let result = PlanExporter.export(plan, to: target)
            let directory = Fixture.fixtures.appendingPathComponent("export/\(profile)/\(target.rawValue)")
            // The Kubernetes seccomp file is the seccomp target's, byte for byte: kept once.
            let seccompFile = PlanExporter.export(plan, to: .seccomp).files[0]
            var files = result.files.filter { target != .kubernetes || $0 != seccompFile }.map { ($0.name, $0.contents) }
            if target == .kubernetes { #expect(result.files.contains(seccompFile)) }
            files.append(("parity.txt", result.parityText))
            if environment["LPA_UPDATE_GOLDENS"] == "1" {
                #expect(environment["CI"] != "true", "LPA_UPDATE_GOLDENS=1 under CI: goldens were not checked")
                try? FileManager.default.removeItem(at: directory)
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                for (name, contents) in files {
                    try contents.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
                }
                continue
            }
            let expected = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            #expect(expected == files.map(\.0).sorted(), "files of \(profile) --to \(target.rawValue)")
            for (name, contents) in files {
                let golden = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
                #expect(contents == golden, "\(profile)/\(target.rawValue)/\(name) differs; run `make goldens` and review")
            }
            // Every setting the table names is named once, and a weaker row says why.
            #expect(Set(result.parity.map(\.setting)).count == result.parity.count, "\(profile) \(target)")
            for row in result.parity where row.level != .exact { #expect(!row.how.isEmpty) }
            // The JSON form is the same table.
            let json = try Self.object(result.parityJSON)
            #expect((json["rows"] as? [Any])?.count == result.parity.count)
            #expect(json["exact"] as? Bool == result.isExact)
        }
    }

    /// The seccomp JSON carries every rule libseccomp resolved for the run, with its
    /// errno, and compares ioctl requests on 32 bits as SeccompFilter does.
    @Test func seccompProfileCarriesEveryRuleWithItsArguments() throws {
        let plan = try Self.plan("strict")
        let result = PlanExporter.export(plan, to: .seccomp)
        let profile = try Self.object(result.files[0].contents)
        #expect(profile["defaultAction"] as? String == "SCMP_ACT_ALLOW")
        #expect(profile["architectures"] as? [String] == ["SCMP_ARCH_X86_64"])
        let entries = try #require(profile["syscalls"] as? [[String: Any]])
        var names: [String: Int] = [:]
        for entry in entries { for name in entry["names"] as? [String] ?? [] { names[name, default: 0] += 1 } }
        for rule in plan.seccomp.rules where rule.number >= 0 {
            #expect(names[rule.syscall] != nil, "rule for \(rule.syscall) missing")
        }
        #expect(names["umount"] == nil, "a syscall x86_64 lacks must be left out, as in the run")
        // TIOCSTI: low 32 bits only, so 0x1_0000_5412 matches too (CVE-2019-10063).
        let tiocsti = try #require(entries.first { entry in
            (entry["names"] as? [String]) == ["ioctl"]
                && ((entry["args"] as? [[String: Any]])?.first?["valueTwo"] as? UInt64) == 0x5412
        })
        let arg = try #require((tiocsti["args"] as? [[String: Any]])?.first)
        #expect(arg["op"] as? String == "SCMP_CMP_MASKED_EQ")
        #expect(arg["value"] as? UInt64 == 0xffff_ffff)
        #expect(arg["index"] as? Int == 1)
        #expect(tiocsti["errnoRet"] as? Int == 1)
        // Socket families: EAFNOSUPPORT (97), with the family as argument 0.
        let appletalk = try #require(entries.first { entry in
            (entry["names"] as? [String]) == ["socket"]
                && ((entry["args"] as? [[String: Any]])?.first?["value"] as? Int) == 5
        })
        #expect(appletalk["errnoRet"] as? Int == 97)
        #expect(entries.contains { entry in
            (entry["names"] as? [String]) == ["socket"]
                && (entry["args"] as? [[String: Any]])?.first?["op"] as? String == "SCMP_CMP_GE"
        }, "families from AF_NETLINK (16) up are denied by one GE comparison")
        // clone3 fails with ENOSYS so that libc falls back to clone, whose flags are checked.
        #expect(entries.contains { ($0["names"] as? [String]) == ["clone3"] && $0["errnoRet"] as? Int == 38 })
    }

    @Test func widthThirtyTwoOrderedCompareIsReportedApproximate() {
        let plan = IsolationPlan(
            command: Fixture.command, namespaces: Namespace.allCases,
            identity: Identity(runAs: .caller, uid: 1000, gid: 1000), hostname: "h", workingDirectory: "/",
            mounts: [], network: NetworkPlan(mode: .none),
            seccomp: SeccompPlan(architecture: "x86_64", defaultAction: .allow, otherArchitectures: .killThread, rules: [
                SeccompRule(syscall: "ioctl", number: 16, action: .errno(name: "EPERM", number: 1),
                            args: [ArgCondition(index: 1, op: .ge, value: 7, width: 32)]),
            ]),
            capabilities: CapabilityPlan(keep: []), rlimits: [],
            environment: EnvironmentPlan(set: [], dropped: []), models: [],
            profile: ProfileChain(chain: [], description: "", digest: ""))
        let result = PlanExporter.export(plan, to: .seccomp)
        #expect(result.parity.first { $0.setting == "seccomp.rules" }?.level == .approximate)
        #expect(result.parity.first { $0.setting == "seccomp.otherArchitectures" }?.level == .exact)
        #expect(!result.isExact)
    }

    @Test func ociBundleMapsTheStrictPlan() throws {
        let plan = try Self.plan("strict")
        let result = PlanExporter.export(plan, to: .oci)
        #expect(result.directories == ["rootfs"])
        let config = try Self.object(result.files[0].contents)
        let process = try #require(config["process"] as? [String: Any])
        #expect(process["noNewPrivileges"] as? Bool == true)
        let caps = try #require(process["capabilities"] as? [String: [String]])
        #expect(caps.count == 5 && caps.values.allSatisfy(\.isEmpty))
        #expect((config["root"] as? [String: Any])?["readonly"] as? Bool == true)
        let linux = try #require(config["linux"] as? [String: Any])
        let namespaces = (linux["namespaces"] as? [[String: String]])?.compactMap { $0["type"] }
        #expect(namespaces == ["user", "mount", "pid", "network", "ipc", "uts", "cgroup"])
        #expect((linux["maskedPaths"] as? [String])?.contains("/etc/shadow") == true)
        let mounts = try #require(config["mounts"] as? [[String: Any]])
        let home = try #require(mounts.first { $0["destination"] as? String == "/home/user" })
        #expect(home["options"] as? [String] == ["nosuid", "nodev", "rw", "mode=0700", "size=1073741824",
                                                  "uid=1000", "gid=1000"])
        let usr = try #require(mounts.first { $0["destination"] as? String == "/usr" })
        #expect(usr["options"] as? [String] == ["rbind", "rro", "nosuid", "nodev"])
        // The command is a file: crun refuses "rro" on a file, so plain "ro".
        let command = try #require(mounts.first { $0["destination"] as? String == "/opt/llama/bin/llama-server" })
        #expect((command["options"] as? [String])?.prefix(2) == ["rbind", "ro"])
        #expect(result.parity.first { $0.setting == "tmpfs noswap" }?.level == ParityRow.Level.none)
        #expect(result.parity.first { $0.setting.hasPrefix("landlock") }?.level == ParityRow.Level.none)
    }

    @Test func publishedPortsBecomeASocketProxyInTheServiceNamespace() throws {
        let plan = try Self.plan("strict", overrides: CommandLineOverrides(publish: ["127.0.0.1:8081:8080"]))
        let result = PlanExporter.export(plan, to: .systemd)
        #expect(result.files.map(\.name) == ["lpa-strict.service", "lpa-strict-port8081.socket",
                                              "lpa-strict-port8081.service"])
        #expect(result.files[1].contents.contains("ListenStream=127.0.0.1:8081\n"))
        let proxy = result.files[2].contents
        #expect(proxy.contains("JoinsNamespaceOf=lpa-strict.service\n"))
        #expect(proxy.contains("PrivateNetwork=yes\n"))
        #expect(proxy.contains("systemd-socket-proxyd --exit-idle-time=5min --connections-max=512 127.0.0.1:8080\n"))
        let service = result.files[0].contents
        for line in ["PrivateNetwork=yes", "IPAddressDeny=any", "NoNewPrivileges=yes", "CapabilityBoundingSet=",
                     "ProtectSystem=strict", "ProtectHome=tmpfs", "PrivateTmp=yes", "SystemCallArchitectures=native",
                     "SystemCallErrorNumber=EPERM", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                     "RestrictNamespaces=yes", "LockPersonality=yes", "PrivateDevices=yes", "UMask=0077",
                     "LimitCORE=0"] {
            #expect(service.contains("\n" + line + "\n"), "missing \(line)")
        }
        #expect(service.contains("SystemCallFilter=~chroot:EPERM io_uring_enter:EPERM"))
        #expect(result.parity.first { $0.setting == "seccomp ioctl-deny" }?.level == ParityRow.Level.none)

        let k8s = PlanExporter.export(plan, to: .kubernetes)
        let yaml = k8s.files[0].contents
        #expect(yaml.contains("kind: \"Service\""))
        #expect(yaml.contains("targetPort: 8080"))
        #expect(yaml.contains("egress: []"))
        #expect(yaml.contains("localhostProfile: \"lpa-run/seccomp-strict.json\""))
        #expect(k8s.files[1].name == "seccomp-strict.json")
        #expect(k8s.files[1].contents == PlanExporter.export(plan, to: .seccomp).files[0].contents)
    }

    /// lpa-run relays unix-socket endpoints itself: every target names them as not
    /// expressible instead of dropping them.
    @Test func unixSocketEndpointsAreNeverDroppedSilently() throws {
        let plan = try Self.plan("strict", overrides: CommandLineOverrides(
            publish: ["unix:/run/user/1000/llm.sock:8080"], connect: ["unix:/run/user/1000/tool.sock:/run/tool.sock"]))
        for target in [ExportTarget.oci, .kubernetes, .systemd] {
            let result = PlanExporter.export(plan, to: target)
            #expect(result.parity.first { $0.setting.hasPrefix("publish unix:/run/user/1000/llm.sock") }?.level == ParityRow.Level.none,
                    "\(target)")
            #expect(result.parity.first { $0.setting == "connect unix:/run/user/1000/tool.sock" }?.level == ParityRow.Level.none,
                    "\(target)")
            #expect(!result.isExact)
        }
    }

    /// A path is data: one with a line break, quote, backslash or ':' would add its own
    /// directives to a unit (red team: `ExecStartPre=+…` from a bind path), so the
    /// systemd export refuses it; the quoting targets carry it as a value.
    @Test func systemdRefusesPathsThatWouldInjectDirectives() throws {
        let evil = "/data/x\n[Service]\nExecStartPre=+/tmp/e"
        let plan = try Fixture.compiler(["p.yaml": """
            extends: strict
            filesystem:
              read-only: [{path: "\(evil.replacingOccurrences(of: "\n", with: "\\n"))", optional: true}]
            """]).compile(profile: "p.yaml", command: Fixture.command).plan
        let systemd = PlanExporter.export(plan, to: .systemd)
        #expect(systemd.refusals.count == 1, "\(systemd.refusals)")
        for path in ["/a:b", "/a\\b", "/a\"b", "/a'b", "/a\u{7f}b"] {
            #expect(SystemdExport.isUnsafe(path), "\(path)")
        }
        #expect(!SystemdExport.isUnsafe("/models/my model-1.gguf"))
        #expect(PlanExporter.export(plan, to: .oci).refusals.isEmpty)
        #expect(SystemdExport.quote("a\rb\u{1b}c") == "\"a\\x0db\\x1bc\"")
    }

    @Test func quotingKeepsValuesWhatTheyAre() {
        #expect(SystemdExport.quote("a b$HOME%n\"\\") == "\"a b$$HOME%%n\\\"\\\\\"")
        #expect(SystemdExport.quote("X=$1", expandsVariables: false) == "\"X=$1\"")
        let value = ExportValue.object([("a", .string("yes")), ("b", .array([.string("080"), .object([("c", .int(1)),
                                                                                                       ("d", .bool(true))])]))])
        #expect(value.yaml() == "a: \"yes\"\nb:\n  - \"080\"\n  - c: 1\n    d: true\n")
        #expect(ExportNames.label("My_Profile.yaml") == "my-profile-yaml")
    }
}
