import Foundation
import Testing
@testable import LPAPolicy

/// Issue 12, part 1: the Landlock ruleset is derived from the plan's mounts.
struct LandlockCompilerTests {
    static func rule(_ plan: IsolationPlan, _ path: String) -> LandlockRule? {
        plan.landlock.rules.first { $0.path == path }
    }

    @Test func readOnlyBindsReadAndExecuteTmpfsReadsAndWrites() throws {
        let plan = try Fixture.compile("filesystem:\n  read-only: [/opt/models]\n  read-write: [/srv/out]\n  tmpfs: [/scratch]\n")
        #expect(plan.landlock.mode == .bestEffort)
        #expect(Self.rule(plan, "/opt/models")?.access == [.execute, .readFile, .readDir])
        let rw = try #require(Self.rule(plan, "/srv/out")?.access)
        #expect(rw.contains(.writeFile) && rw.contains(.makeReg) && rw.contains(.removeFile) && rw.contains(.truncate))
        #expect(!rw.contains(.makeChar) && !rw.contains(.makeBlock))
        #expect(Self.rule(plan, "/scratch")?.access == rw)
        // The root is only listable; nothing beneath it is granted by that rule.
        #expect(Self.rule(plan, "/")?.access == [.readDir])
        #expect(plan.landlock.handled == LandlockAccess.allCases)
        #expect(plan.landlock.scopes == ["signal", "abstract-unix-socket"])
    }

    @Test func hidesProtectionsAndLinksGetNoRule() throws {
        let plan = try Fixture.compile("filesystem:\n  read-only: [/etc]\n  hide: [/etc/ssh]\n")
        #expect(Self.rule(plan, "/etc/ssh") == nil)
        #expect(Self.rule(plan, "/proc/sys") == nil)
        #expect(Self.rule(plan, "/dev/fd") == nil)
        for rule in plan.landlock.rules {
            guard let index = rule.mount else { continue }
            #expect(![.hide, .protect, .symlink].contains(plan.mounts[index].kind))
            #expect(plan.mounts[index].target == rule.path)
        }
    }

    @Test func devicesReadWriteAndIoctlNoExecute() throws {
        let plan = try Fixture.compile("")
        #expect(Self.rule(plan, "/dev/null")?.access == [.writeFile, .readFile, .ioctlDev])
        #expect(Self.rule(plan, "/proc")?.access == [.writeFile, .readFile, .readDir])
        // /dev is a noexec tmpfs: no execute there.
        #expect(Self.rule(plan, "/dev")?.access.contains(.execute) == false)
    }

    @Test func rightsAreMaskedToTheHostABI() {
        let mounts = [MountEntry(kind: .tmpfs, target: "/tmp"), MountEntry(kind: .device, source: "/dev/null", target: "/dev/null")]
        let v1 = LandlockCompiler(mode: .bestEffort, abi: 1).compile(mounts)
        #expect(v1.handled.count == 13)
        #expect(v1.scopes.isEmpty)
        #expect(v1.rules.allSatisfy { !$0.access.contains(.refer) && !$0.access.contains(.truncate) && !$0.access.contains(.ioctlDev) })
        let v3 = LandlockCompiler(mode: .bestEffort, abi: 3).compile(mounts)
        #expect(v3.handled.count == 15 && v3.handled.contains(.truncate) && !v3.handled.contains(.ioctlDev))
        let v7 = LandlockCompiler(mode: .bestEffort, abi: 7).compile(mounts)
        #expect(v7.handled.count == 16 && v7.scopes.count == 2)
        #expect(LandlockAccess.mask(v7.handled) == 0xffff)
    }

    @Test func offAndExclusions() throws {
        let off = try Fixture.compile("landlock: off\n")
        #expect(off.landlock.mode == .off && off.landlock.rules.isEmpty && off.landlock.handled.isEmpty)
        let required = try Fixture.compile("landlock: required\n")
        #expect(required.landlock.mode == .required && !required.landlock.rules.isEmpty)
        let excluded = try Fixture.compile("filesystem:\n  read-only: [/srv/a]\nlandlock-exclude: [/srv]\n")
        #expect(Self.rule(excluded, "/srv/a") == nil)
        #expect(Self.rule(excluded, "/dev/null") != nil)
        #expect(Fixture.messages("landlock: maybe\n").contains { $0.contains("'landlock' must be one of required, best-effort, off") })
    }

    @Test func dryRunTextSaysWhatApplies() throws {
        var plan = try Fixture.compile("filesystem:\n  read-only: [/usr]\n")
        plan.landlock.abi = 7
        let text = PlanFormatter.text(plan)
        #expect(text.contains("best-effort, ABI 7"))
        #expect(text.contains("allow /usr") && text.contains("execute read-file read-dir"))
        plan.landlock = LandlockCompiler(mode: .bestEffort, abi: 0).compile(plan.mounts)
        #expect(PlanFormatter.text(plan).contains("landlock: not available on this kernel (best-effort: off)"))
        plan.landlock = LandlockCompiler(mode: .required, abi: 0).compile(plan.mounts)
        #expect(PlanFormatter.text(plan).contains("a run exits 125"))
    }

    // TCP port rules (ABI 4).

    @Test func portsDefaultToAnyAndAreNotHandled() throws {
        let plan = try Fixture.compile("")
        #expect(plan.landlock.network == LandlockNetwork(handled: [], bind: .any, connect: .any))
        // Every preset keeps both directions open (ollama's runners bind ports they choose).
        for name in ["strict", "llama-server", "ollama", "vllm", "agent", "agent-python", "gpu", "whisper-server"] {
            let preset = try Fixture.compile("extends: builtin:\(name)\n")
            #expect(preset.landlock.network.handled.isEmpty, "\(name)")
        }
    }

    @Test func portListsAddPublishedAndConnectPorts() throws {
        let plan = try Fixture.compile("network:\n  bind-ports: [9000, 8080, 9000]\n  connect-ports: []\n",
                                       overrides: .init(publish: ["18080:8081"], connect: ["127.0.0.1:5432:15432"]))
        #expect(plan.landlock.network.handled == ["bind-tcp", "connect-tcp"])
        #expect(plan.landlock.network.bind == .only([8080, 8081, 9000]))
        #expect(plan.landlock.network.connect == .only([15432]))
        let json = PlanFormatter.json(plan)
        let decoded = try JSONDecoder().decode(IsolationPlan.self, from: Data(json.utf8))
        #expect(decoded.landlock.network == plan.landlock.network)
        let text = PlanFormatter.text(plan)
        #expect(text.contains("only 8080 8081 9000") && text.contains("only 15432"), "\(text)")
        // A direction left at `any` stays unhandled, whatever is published.
        let open = try Fixture.compile("network:\n  connect-ports: [443]\n", overrides: .init(publish: ["18080:8081"]))
        #expect(open.landlock.network.handled == ["connect-tcp"] && open.landlock.network.bind == .any)
        #expect(PlanFormatter.text(open).contains("any port"))
    }

    @Test("restricted connect ports refuse TCP Fast Open (sendto/sendmsg/sendmmsg with MSG_FASTOPEN) in the filter")
    func connectPortsRefuseFastOpen() throws {
        func fastOpenCalls(_ plan: IsolationPlan) -> [String] {
            plan.seccomp.rules.filter { rule in
                rule.action == .errno(name: "EPERM", number: 1) && rule.args.contains {
                    $0.op == .maskedEq && $0.mask == 0x2000_0000 && $0.value == 0x2000_0000
                        && $0.index == (rule.syscall == "sendmsg" ? 2 : 3)
                }
            }.map(\.syscall)
        }
        let restricted = try Fixture.compile("network:\n  mode: host\n  connect-ports: [5432]\n")
        #expect(fastOpenCalls(restricted) == ["sendto", "sendmsg", "sendmmsg"])
        #expect(PlanFormatter.text(restricted).contains("sendto"), "visible in --dry-run")
        #expect(fastOpenCalls(try Fixture.compile("network:\n  mode: host\n")).isEmpty, "any port: nothing to bypass")
        // A default-deny filter that allows sendmsg outright: libseccomp drops a conditional
        // rule on a call that has an unconditional one (seen with a loaded filter: the
        // TFO connect went through), so the allow itself must exclude MSG_FASTOPEN.
        let allowlist = try Fixture.compile("""
            seccomp:
              default: kill
              deny: {replace: []}
              allow: [read, write, exit_group, execve, sendmsg]
            network:
              mode: host
              connect-ports: [5432]
            """)
        let sendmsg = allowlist.seccomp.rules.filter { $0.syscall == "sendmsg" }
        #expect(sendmsg.count == 2 && sendmsg.allSatisfy { !$0.args.isEmpty }, "\(sendmsg)")
        #expect(sendmsg.contains { $0.action == .allow && $0.args == [ArgCondition(index: 2, op: .maskedEq, value: 0,
                                                                                  mask: 0x2000_0000, width: 32)] })
    }

    @Test func portRulesAreMaskedBelowABI4AndSurviveLandlockOff() throws {
        let three = LandlockCompiler(mode: .bestEffort, abi: 3, bindPorts: .only([80])).compile([])
        #expect(three.network.handled.isEmpty && three.network.bind == .only([80]))
        var plan = try Fixture.compile("")
        plan.landlock = three
        #expect(PlanFormatter.text(plan).contains("only 80 (not enforced: Landlock ABI 4 needed)"))
        let off = LandlockCompiler(mode: .off, abi: 7, bindPorts: .only([80])).compile([])
        #expect(off.network.handled == ["bind-tcp"] && off.rules.isEmpty)
    }

    @Test func badPortValuesAreErrors() {
        #expect(Fixture.messages("network:\n  bind-ports: some\n").contains { $0.contains("'bind-ports' must be 'any' or a list of TCP ports") })
        #expect(Fixture.messages("network:\n  connect-ports: [70000]\n").contains { $0.contains("TCP port numbers (0-65535)") })
        #expect(Fixture.messages("network:\n  bind-ports: 8080\n").contains { $0.contains("'bind-ports' must be 'any'") })
    }
}
