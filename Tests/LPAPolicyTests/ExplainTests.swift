import Foundation
import Testing
@testable import LPAPolicy

/// `lpa-run explain`: each risk's verdict and the lines responsible, from real compilations.
@Suite("explain")
struct ExplainTests {
    func explain(_ text: String, overrides: CommandLineOverrides = .init()) throws -> [Risk: RiskCoverage] {
        let compilation = try Fixture.compiler(["p.yaml": text])
            .compile(profile: "p.yaml", command: Fixture.command, overrides: overrides)
        let risks = CoverageExplainer(plan: compilation.plan, origins: compilation.origins, home: "/home/user").explain()
        #expect(risks.map(\.risk) == Risk.allCases, "every risk, in the threat model's order")
        return Dictionary(uniqueKeysWithValues: risks.map { ($0.risk, $0) })
    }

    @Test("strict answers phoning home, exposure, other processes and terminal injection, with its lines")
    func strictAnswers() throws {
        let risks = try explain("extends: strict\n")
        for risk in [Risk.phoneHome, .exposure, .processes, .terminal, .hostFiles, .persistence] {
            #expect(risks[risk]?.verdict == .answered, "\(risk): \(String(describing: risks[risk]?.gaps))")
        }
        let network = try #require(risks[.phoneHome]?.answeredBy.first)
        #expect(network.origin == Origin(file: "builtin:strict", line: 16), "the line of `mode: none`")
        #expect(risks[.terminal]?.answeredBy.contains { $0.text == "TIOCSTI is denied" && $0.origin != nil } == true)
        #expect(risks.values.allSatisfy { $0.gaps.allSatisfy { $0.weight != .opens } })
    }

    @Test("network: host opens phoning home and exposure, naming the line that opened them")
    func hostNetworkIsOpen() throws {
        let risks = try explain("""
            extends: strict
            network:
              mode: host
            """)
        for risk in [Risk.phoneHome, .exposure] {
            let coverage = try #require(risks[risk])
            #expect(coverage.verdict == .open)
            let gap = try #require(coverage.gaps.first { $0.weight == .opens })
            #expect(gap.origin == Origin(file: "p.yaml", line: 3))
            #expect(gap.fix?.contains("mode: none") == true)
        }
        #expect(risks[.processes]?.verdict == .partial, "the host's abstract sockets")
    }

    @Test("a published port on all interfaces opens exposure; on loopback it answers it")
    func publishedPorts() throws {
        let open = try explain("extends: strict\n",
                               overrides: .init(publish: ["0.0.0.0:8080:8080"], allowNonLoopbackPublish: true))
        #expect(open[.exposure]?.verdict == .open)
        #expect(open[.exposure]?.gaps.first?.fix == "-p 127.0.0.1:8080:8080")
        let loopback = try explain("extends: strict\n", overrides: .init(publish: ["8080:8080"]))
        #expect(loopback[.exposure]?.verdict == .answered)
        #expect(loopback[.exposure]?.answeredBy.first?.text.contains("127.0.0.1:8080") == true)
    }

    @Test("unix-socket endpoints: a connected host socket weakens phoning home; a published one answers exposure")
    func unixSocketEndpoints() throws {
        let risks = try explain("extends: strict\n", overrides: .init(
            publish: ["unix:/run/user/1000/llm.sock:8080"], connect: ["unix:/run/user/1000/tool.sock:/run/tool.sock"]))
        #expect(risks[.phoneHome]?.verdict == .partial)
        #expect(risks[.phoneHome]?.gaps.contains { $0.text.contains("/run/user/1000/tool.sock") } == true)
        #expect(risks[.exposure]?.verdict == .answered)
        #expect(risks[.exposure]?.answeredBy.contains { $0.text.contains("/run/user/1000/llm.sock") } == true)
    }

    @Test("--isolation landlock: no namespace is claimed, and each stated loss is a gap of its risk, with the line")
    func degradedMode() throws {
        let risks = try explain("""
            extends: strict
            isolation: landlock
            """)
        let processes = try #require(risks[.processes])
        #expect(!processes.answeredBy.contains { $0.text.contains("pid namespace") })
        #expect(processes.gaps.contains { $0.text.contains("no pid namespace") && $0.origin == Origin(file: "p.yaml", line: 2) })
        #expect(risks[.phoneHome]?.verdict == .partial, "Landlock limits connect; UDP denied: weakened, not open")
        #expect(risks[.phoneHome]?.gaps.contains { $0.text.contains("no network namespace") } == true)
        #expect(risks[.exposure]?.gaps.contains { $0.text.contains("binds the host's port itself") } == true)
        #expect(risks[.persistence]?.gaps.contains { $0.text.contains("noswap") } == true)
        #expect(risks[.kernel]?.answeredBy.contains { $0.text.contains("user namespace") } == false)
        #expect(CoverageExplainer.risk(ofLoss: "something new nobody mapped") == .kernel)
        // The red team's findings, each stated and mapped to its risk.
        #expect(risks[.exposure]?.gaps.contains { $0.text.contains("listen() on an unbound TCP socket") } == true)
        #expect(risks[.hostFiles]?.gaps.contains { $0.text.contains("metadata") && $0.text.contains("chmod") } == true)
        #expect(risks[.processes]?.gaps.contains { $0.text.contains("abstract unix socket names") } == true)
        #expect(risks[.persistence]?.gaps.contains { $0.text.contains("SIGKILL of lpa-run") } == true)
    }

    @Test("a writable bind of the home weakens persistence, tampering and host files, each with its line")
    func writableHomeBind() throws {
        let risks = try explain("""
            extends: strict
            filesystem:
              read-write: [/home/user/notes]
            """)
        for risk in [Risk.persistence, .tampering, .hostFiles] {
            let coverage = try #require(risks[risk])
            #expect(coverage.verdict == .partial, "\(risk)")
            #expect(coverage.gaps.contains { $0.text.contains("/home/user/notes") && $0.origin == Origin(file: "p.yaml", line: 3) },
                    "\(risk): \(coverage.gaps)")
        }
    }

    @Test("swap and TIOCSTI: each weakened setting is reported with its line and fix")
    func weakenedSettings() throws {
        let risks = try explain("""
            extends: strict
            filesystem:
              noswap: false
            seccomp:
              ioctl-deny: {replace: []}
            """)
        #expect(risks[.persistence]?.gaps.contains { $0.text.contains("swap") && $0.origin == Origin(file: "p.yaml", line: 3) } == true)
        #expect(risks[.persistence]?.answeredBy.contains { $0.text.hasPrefix("no core dumps") } == true)
        #expect(risks[.terminal]?.verdict == .partial)
        #expect(risks[.terminal]?.gaps.contains { $0.text.hasPrefix("TIOCSTI") } == true)
    }

    @Test("without an ipc namespace, other processes are answered only in part, with the line")
    func noIpcNamespace() throws {
        let risks = try explain("""
            extends: strict
            namespaces: [user, mount, pid, net, uts, cgroup]
            """)
        #expect(risks[.processes]?.verdict == .partial)
        #expect(risks[.processes]?.gaps.first?.origin == Origin(file: "p.yaml", line: 2))
        #expect(risks[.processes]?.gaps.first?.fix == "namespaces: include ipc")
    }

    @Test("a pinned executable and model answer tampering")
    func pinsAnswerTampering() throws {
        let hex = String(repeating: "ab", count: 32)
        let risks = try explain("""
            extends: strict
            pins:
              executable: \(hex)
            models:
              - {path: /models/m.gguf, sha256: \(hex)}
            """)
        #expect(risks[.tampering]?.verdict == .answered, "\(String(describing: risks[.tampering]?.gaps))")
        #expect(risks[.tampering]?.answeredBy.contains { $0.text.contains("executable is pinned") && $0.origin == Origin(file: "p.yaml", line: 3) } == true)
    }

    @Test("every risk has a section in docs/THREATS.md, in the same order, with its id")
    func threatModelDocumentMatches() throws {
        let text = try String(contentsOf: Fixture.repositoryRoot.appendingPathComponent("docs/THREATS.md"), encoding: .utf8)
        let headings = text.split(separator: "\n").filter { $0.hasPrefix("## ") }.map { String($0.dropFirst(3)) }
        let expected = Risk.allCases.map { "\($0.title) (`\($0.rawValue)`)" }
        #expect(Array(headings.prefix(expected.count)) == expected)
    }

    @Test("text forms print every value on its own line, without escape sequences")
    func textFormsArePrintable() throws {
        let compilation = try Fixture.compiler(["p.yaml": """
            extends: strict
            hostname: ok
            filesystem:
              read-only: [{path: "/data/\\e]0;title\\u0007\\nfake: line", optional: true}]
            """]).compile(profile: "p.yaml", command: Fixture.command)
        let risks = CoverageExplainer(plan: compilation.plan, origins: compilation.origins, home: "/home/user").explain()
        for text in [PlanFormatter.text(compilation.plan), CoverageFormatter.text(CoverageFormatter.report(compilation.plan, risks))] {
            #expect(!text.unicodeScalars.contains { TerminalText.isUnsafe($0) && $0 != "\n" })
            #expect(!text.split(separator: "\n").contains { $0.hasPrefix("fake: line") })
        }
        #expect(PlanFormatter.text(compilation.plan).contains("/data/?]0;title??fake: line"))
    }

    @Test("the JSON form carries the same verdicts")
    func json() throws {
        let compilation = try Fixture.compiler(["p.yaml": "extends: strict\nnetwork: {mode: host}\n"])
            .compile(profile: "p.yaml", command: Fixture.command)
        let risks = CoverageExplainer(plan: compilation.plan, origins: compilation.origins, home: "/home/user").explain()
        let text = CoverageFormatter.json(CoverageFormatter.report(compilation.plan, risks))
        let decoded = try JSONDecoder().decode(CoverageFormatter.Report.self, from: Data(text.utf8))
        #expect(decoded.risks == risks)
        #expect(decoded.profile == "p")
    }
}
