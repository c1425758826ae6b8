#if canImport(Glibc)
import Glibc
#endif
import CSupervisor
import Foundation
import LPAPolicy
@testable import LPASandbox
import Testing

/// Issue 11, items 2 and 9, the pure parts: escaping of what the sandbox chose, the
/// bounded socket address, which host paths the sandbox can write, and the log's limits.
@Suite("audit log escaping, limits and writable paths")
struct AuditLogLimitTests {
    @Test("JSON strings are printable ASCII: every byte below 0x20 or from 0x7f up, $ and ` escaped")
    func jsonIsPrintableASCII() throws {
        let hostile = "a$(id)`b`\n\u{1b}[0m\u{7f}\u{85}\u{202e}é\u{1F600}\"\\"
        let literal = AuditText.json(hostile)
        #expect(literal.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f })
        #expect(literal == #""a\u0024(id)\u0060b\u0060\u000a\u001b[0m\u007f\u0085\u202e\u00e9\ud83d\ude00\"\\""#)
        let decoded = try JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed) as? String
        #expect(decoded == hostile)
    }

    @Test("the report's text for a terminal replaces controls, line separators and bidi overrides")
    func printableForTerminal() {
        #expect(AuditText.printable("a\u{1b}b\u{202e}c\u{2028}d\u{2066}é") == "a?b?c?d?é")
    }

    @Test("a unix address is read only as far as the caller's length: an unterminated path ends there")
    func unixAddressBoundedByLength() {
        let family = withUnsafeBytes(of: sa_family_t(AF_UNIX)) { Array($0) }
        let fullPath = [UInt8](repeating: UInt8(ascii: "a"), count: 108)
        // What audit.c hands over: the family and sun_path with no NUL, then nothing more.
        #expect(AuditDetail.describeAddress(family + fullPath) == "unix:" + String(repeating: "a", count: 108))
        // Bytes past sun_path (as if more was read) are never part of the path.
        #expect(AuditDetail.describeAddress(family + fullPath + Array("BEYOND".utf8))
                == "unix:" + String(repeating: "a", count: 108))
        #expect(AuditDetail.describeAddress(family + Array("/run/x".utf8)) == "unix:/run/x")
        #expect(AuditDetail.describeAddress(family + [0] + Array("x11".utf8)) == "unix:@x11")
        #expect(AuditDetail.describeAddress(family) == "unix:(unnamed)")
    }

    static let context = HostContext(environment: ["HOME": "/home/user", "PATH": "/usr/bin:/bin"],
                                     cwd: "/home/user/project", uid: 1000, gid: 1000)

    static func plan(_ profile: String) throws -> IsolationPlan {
        let loader = InMemoryProfileLoader(profiles: [LoadedProfile(name: "p", path: "p.yaml", text: profile)])
        return try PolicyCompiler(loader: loader, context: context)
            .compile(profile: "p.yaml", command: CommandPlan(argv: ["/bin/true"], executable: "/bin/true")).plan
    }

    @Test("a path inside a read-write bind (the agent's working directory) is found; read-only binds and siblings are not")
    func writableBindsOfThePlan() throws {
        let plan = try Self.plan("extends: strict\nfilesystem: {noswap: false, cwd: read-write}\n")
        #expect(HostOutputFile.writableBind(containingAny: ["/home/user/project/audit.jsonl"], plan: plan)?.source
                == "/home/user/project")
        #expect(HostOutputFile.writableBind(containingAny: ["/home/user/project"], plan: plan) != nil)
        #expect(HostOutputFile.writableBind(containingAny: ["/home/user/project-logs/audit.jsonl"], plan: plan) == nil)
        #expect(HostOutputFile.writableBind(containingAny: ["/usr/share/audit.jsonl"], plan: plan) == nil)
        let readOnly = try Self.plan("extends: strict\nfilesystem: {noswap: false, cwd: read-only}\n")
        #expect(HostOutputFile.writableBind(containingAny: ["/home/user/project/audit.jsonl"], plan: readOnly) == nil)
    }

    /// A supervisor writing to a fresh log file, fed records through audit.c's sink.
    final class Harness {
        let directory: String
        let supervisor: AuditSupervisor
        let log: HostOutputFile

        init() throws {
            directory = "/tmp/lpa-audit-limit-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            mkdir(directory, 0o700)
            let plan = try AuditLogLimitTests.plan("extends: strict\nfilesystem: {noswap: false}\n")
            log = try HostOutputFile.open(directory + "/audit.jsonl", option: "--audit-log", mode: .append,
                                          plan: plan, cwd: "/")
            let rules = [AuditRule(number: 312, kind: .deny, errno: EPERM, syscall: "kcmp", errnoName: "EPERM"),
                         AuditRule(number: 165, kind: .deny, errno: EPERM, syscall: "mount", errnoName: "EPERM")]
            supervisor = try AuditSupervisor(rules: rules, log: log)
        }

        func feed(rule: UInt32, second: Int64, count: Int, exe: String = "/usr/bin/flood") {
            let bytes = Array(exe.utf8)
            bytes.withUnsafeBufferPointer { exeBuffer in
                supervisor.withSpec { spec in
                    for _ in 0..<count {
                        var raw = lpa_audit_record()
                        raw.rule = rule
                        raw.err = EPERM
                        raw.host_pid = 4242
                        raw.pid = 2
                        raw.time_sec = second
                        raw.data_length = (-1, -1, -1, -1, -1, -1)
                        raw.exe = exeBuffer.baseAddress
                        raw.exe_length = UInt32(bytes.count)
                        spec.pointee.sink!(&raw, spec.pointee.context)
                    }
                }
            }
        }

        var lines: [[String: Any]] {
            let text = (try? String(contentsOfFile: directory + "/audit.jsonl", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }

        deinit {
            unlink(directory + "/audit.jsonl")
            rmdir(directory)
        }
    }

    @Test("at most 100 lines per syscall and second; the rest summed in one line per syscall at the end")
    func ratePerSyscall() throws {
        let harness = try Harness()
        harness.feed(rule: 0, second: 1000, count: 1000)
        harness.feed(rule: 1, second: 1000, count: 50)
        harness.feed(rule: 0, second: 1001, count: 150)
        harness.supervisor.finishLog()
        let lines = harness.lines
        let blocked = lines.filter { $0["action"] as? String == "blocked" }
        #expect(blocked.filter { $0["syscall"] as? String == "kcmp" }.count == 200)
        #expect(blocked.filter { $0["syscall"] as? String == "mount" }.count == 50)
        let summary = lines.filter { $0["action"] as? String == "suppressed" }
        #expect(summary.count == 1)
        #expect(summary.first?["syscall"] as? String == "kcmp")
        #expect(summary.first?["count"] as? Int == 950)
        let report = harness.supervisor.report
        #expect(report.blocked == 1200)
        #expect(report.logSuppressed == 950)
        // What matters first: file operations (mount) before privileges (kcmp).
        #expect(report.bySyscall.map(\.name) == ["mount", "kcmp"])
        #expect(report.bySyscall.map(\.count) == [50, 1150])
    }

    @Test("the log of one run stops at 10 MiB of lines; the summary still counts every call")
    func sizeCap() throws {
        let harness = try Harness()
        let longExe = "/" + String(repeating: "x", count: 250)
        var fed = 0
        for second in 0..<400 {
            harness.feed(rule: 0, second: Int64(second), count: 100, exe: longExe)
            fed += 100
        }
        harness.supervisor.finishLog()
        var st = stat()
        #expect(stat(harness.directory + "/audit.jsonl", &st) == 0)
        #expect(st.st_size <= AuditSupervisor.logBytesMax + 4096)
        #expect(st.st_size >= AuditSupervisor.logBytesMax - 4096)
        let lines = harness.lines
        let logged = lines.filter { $0["action"] as? String == "blocked" }.count
        let suppressed = lines.filter { $0["action"] as? String == "suppressed" }.compactMap { $0["count"] as? Int }
        #expect(suppressed.count == 1)
        #expect(logged + (suppressed.first ?? 0) == fed)
    }
}
