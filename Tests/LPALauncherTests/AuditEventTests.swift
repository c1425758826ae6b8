import CSupervisor
import Foundation
@testable import LPASandbox
import Testing

/// The audit log's JSON lines and the report's example lines. The strings come from
/// the sandbox and are hostile.
@Suite("audit event formatting")
struct AuditEventTests {
    static let connect = AuditEvent(seconds: 1_700_000_000, nanoseconds: 123_456_789, syscall: "connect",
                                    errnoName: "ENETUNREACH", pid: 2, hostPid: 4242, executable: "/usr/bin/curl",
                                    detail: "203.0.113.7:443")

    @Test("the exact JSON line for a refused connect")
    func jsonLine() {
        #expect(Self.connect.jsonLine == """
            {"time":"2023-11-14T22:13:20.123Z","action":"blocked","syscall":"connect","errno":"ENETUNREACH",\
            "pid":2,"host_pid":4242,"exe":"/usr/bin/curl","detail":"203.0.113.7:443"}

            """)
    }

    @Test("the example line for the report")
    func example() {
        #expect(Self.connect.example == "connect 203.0.113.7:443 (ENETUNREACH) by pid 2 /usr/bin/curl")
        var ptrace = Self.connect
        ptrace.syscall = "kexec_load"
        ptrace.errnoName = "EPERM"
        ptrace.detail = ""
        #expect(ptrace.example == "kexec_load (EPERM) by pid 2 /usr/bin/curl")
    }

    static let hostilePath = "/tmp/\"},\"action\":\"allowed\\\n\r\t\u{1b}[31m\u{7f}\u{85}\u{2028}é"

    @Test("quotes, backslashes and control characters are escaped; the line stays one JSON object")
    func hostileStringsAreEscaped() throws {
        var event = Self.connect
        event.syscall = "openat"
        event.executable = Self.hostilePath
        event.detail = "path " + Self.hostilePath
        let line = event.jsonLine
        #expect(line.hasSuffix("}\n"))
        let body = line.dropLast()
        #expect(!body.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) })
        #expect(body.contains(#"/tmp/\"},\"action\":\"allowed\\\u000a\u000d\u0009\u001b[31m\u007f\u0085\u2028\u00e9"#))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect(object["action"] as? String == "blocked")
        #expect(object["exe"] as? String == Self.hostilePath)
        #expect(object["detail"] as? String == "path " + Self.hostilePath)
        #expect(object.count == 8)
    }

    @Test("invalid UTF-8 from the sandbox becomes U+FFFD")
    func invalidUTF8IsReplaced() throws {
        var event = Self.connect
        event.executable = AuditText.decode([0x2f, 0x78, 0xff, 0xc3, 0x28, 0x79])
        #expect(event.executable == "/x\u{fffd}\u{fffd}(y")
        let object = try JSONSerialization.jsonObject(with: Data(event.jsonLine.utf8)) as? [String: Any]
        #expect(object?["exe"] as? String == "/x\u{fffd}\u{fffd}(y")
    }

    @Test("the report's example has no control characters and at most 199 bytes")
    func exampleIsPrintableAndBounded() {
        var event = Self.connect
        event.executable = "/x\u{1b}]0;owned\u{07}" + String(repeating: "é", count: 200)
        let example = event.example
        #expect(!example.unicodeScalars.contains { AuditText.isUnsafeOnTerminal($0) })
        #expect(example.hasPrefix("connect 203.0.113.7:443 (ENETUNREACH) by pid 2 /x?]0;owned?é"))
        #expect(example.utf8.count <= 199 && example.utf8.count >= 198)
    }

    @Test("a raw record from audit.c becomes an event: rule names, bytes read, NSpid")
    func rawRecord() {
        let rule = AuditRule(number: 257, kind: .deny, errno: EACCES, syscall: "openat", errnoName: "EACCES")
        let path = Array("/etc/shadow".utf8)
        let exe = Array("/bin/cat".utf8)
        let event = path.withUnsafeBufferPointer { pathBuffer in
            exe.withUnsafeBufferPointer { exeBuffer in
                var raw = lpa_audit_record()
                raw.rule = 0
                raw.err = EACCES
                raw.host_pid = 9999
                raw.pid = 3
                raw.time_sec = 0
                raw.time_nsec = 5_000_000
                raw.args = (UInt64(bitPattern: -100), 0x7fff_0000, 0, 0, 0, 0)
                raw.data = (nil, pathBuffer.baseAddress, nil, nil, nil, nil)
                raw.data_length = (-1, Int32(path.count), -1, -1, -1, -1)
                raw.exe = exeBuffer.baseAddress
                raw.exe_length = UInt32(exe.count)
                return AuditSupervisor.event(raw, rule: rule)
            }
        }
        #expect(event == AuditEvent(seconds: 0, nanoseconds: 5_000_000, syscall: "openat", errnoName: "EACCES",
                                    pid: 3, hostPid: 9999, executable: "/bin/cat", detail: "path /etc/shadow"))
        #expect(event.time == "1970-01-01T00:00:00.005Z")
    }
}
