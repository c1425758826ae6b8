/// The audit record's strings come from the sandbox's memory (paths, executable names):
/// the fuzzer (Sources/lpa-fuzz) builds records from hostile bytes and checks what the
/// log and the exit report would write. No Foundation here: this module is on the
/// launcher's start-up path; the harness does the JSON decoding.
public enum AuditFuzzTargets {
    /// The bytes split at the first NUL into the executable and the detail, as the
    /// supervisor reads them. Returns the log line and the report line.
    public static func record(_ bytes: [UInt8]) -> (logLine: String, reportLine: String, executable: String, detail: String) {
        let split = bytes.firstIndex(of: 0) ?? bytes.endIndex
        let executable = AuditText.decode(Array(bytes[..<split]))
        let detail = AuditText.decode(split < bytes.endIndex ? Array(bytes[(split + 1)...]) : [])
        let event = AuditEvent(seconds: 1_700_000_000, nanoseconds: 123_000_000, syscall: "connect", errnoName: "ENETUNREACH",
                               pid: 2, hostPid: 4242, executable: executable, detail: detail)
        return (event.jsonLine, event.example, executable, detail)
    }

    /// The most UTF-8 bytes a report line may have.
    public static var reportLineLimit: Int { AuditEvent.exampleBytes }
}
