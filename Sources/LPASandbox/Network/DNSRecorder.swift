#if canImport(Glibc)
import Glibc
#endif
import CSupervisor
import LPAPolicy

/// The DNS report's limits, for the exit report's wording.
public enum DNSReportLimits {
    public static let names = DNSRecorder.nameLimit
}

/// Where the sandbox wanted to go, by name: what the DNS sink (dns.c) was asked.
public struct DNSReport: Sendable {
    public struct Name: Sendable, Equatable {
        /// Presentation form (dig's): printable ASCII, anything else as \DDD. Still the
        /// sandbox's choice: escape it again for a terminal or JSON.
        public var name: String
        public var count: UInt64
        /// Record types asked, first asked first: "A", "AAAA", "TYPE65534".
        public var types: [String]
    }
    /// Questions answered (NXDOMAIN), every one.
    public var questions: UInt64 = 0
    /// Distinct names, first asked first, at most `DNSRecorder.nameLimit`.
    public var names: [Name] = []
    /// Questions for names beyond the limit (counted, not kept).
    public var otherQuestions: UInt64 = 0
    /// Malformed messages (answered FORMERR/NOTIMP or dropped), answers the socket could
    /// not take, TCP clients over the cap or out of time.
    public var malformed: UInt64 = 0
    public var dropped: UInt64 = 0
    public var tcpRefused: UInt64 = 0
    public var tcpTimedOut: UInt64 = 0
    /// Questions counted but not written to the audit log (rate or size limit).
    public var logSuppressed: UInt64 = 0

    public init() {}
}

/// The Swift half of the DNS sink: dns.c answers each query and hands the question here
/// (on the relay loop's thread; nothing else touches this object until the loop has
/// returned). It counts names — at most `nameLimit` distinct ones, since a hostile
/// workload can ask millions — and writes one audit line per question within the log's
/// limits: `{"action":"blocked","kind":"dns","name":...,"type":"A",...}`.
final class DNSRecorder {
    /// Distinct names kept for the report; later names are only counted.
    static let nameLimit = 256
    /// Log lines per second and bytes per run, as for blocked calls (AuditSupervisor).
    static let linesPerSecond = 100
    static let logBytesMax = 4 << 20

    private let log: HostOutputFile?
    private var names: [DNSReport.Name] = []
    private var index: [String: Int] = [:]
    private var questions: UInt64 = 0
    private var otherQuestions: UInt64 = 0
    private var windowSecond: Int = -1
    private var linesInWindow = 0
    private var logBytes = 0
    private var suppressed: UInt64 = 0
    var stats = lpa_dns_stats()

    init(log: HostOutputFile?) {
        self.log = log
    }

    /// Runs `body` with the C view (valid only inside it); dns.c calls `record` back.
    func withSpec<T>(_ body: (UnsafePointer<lpa_dns_spec>) -> T) -> T {
        withUnsafeMutablePointer(to: &stats) { statsPointer in
            var spec = lpa_dns_spec(
                sink: { name, length, type, tcp, context in
                    guard let name, let context else { return }
                    let bytes = UnsafeBufferPointer(start: name, count: length)
                    Unmanaged<DNSRecorder>.fromOpaque(context).takeUnretainedValue()
                        .record(wire: bytes, type: type, tcp: tcp != 0)
                },
                context: Unmanaged.passUnretained(self).toOpaque(), stats: statsPointer)
            return withUnsafePointer(to: &spec) { body($0) }
        }
    }

    /// Questions a launch from a record counted without their names (its spool was full
    /// while the reporter could not start): in the totals, as names past the limit are.
    func countUnnamed(_ count: UInt64) {
        questions += count
        otherQuestions += count
    }

    func record(wire: UnsafeBufferPointer<UInt8>, type: UInt16, tcp: Bool) {
        questions += 1
        let name = Self.presentation(wire)
        let typeName = Self.typeName(type)
        if let i = index[name] {
            names[i].count += 1
            if names[i].types.count < 8, !names[i].types.contains(typeName) { names[i].types.append(typeName) }
        } else if names.count < Self.nameLimit {
            index[name] = names.count
            names.append(.init(name: name, count: 1, types: [typeName]))
        } else {
            otherQuestions += 1
        }
        guard let log else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        if windowSecond != now.tv_sec {
            windowSecond = now.tv_sec
            linesInWindow = 0
        }
        let line = Array(Self.jsonLine(time: AuditEvent.isoTime(seconds: Int64(now.tv_sec), nanoseconds: Int64(now.tv_nsec)),
                                       name: name, type: typeName, tcp: tcp).utf8)
        guard linesInWindow < Self.linesPerSecond, logBytes + line.count <= Self.logBytesMax else {
            suppressed += 1
            return
        }
        linesInWindow += 1
        logBytes += line.count
        _ = log.write(line)
    }

    /// One audit line (JSONString.literal escapes every byte a reader could misread).
    static func jsonLine(time: String, name: String, type: String, tcp: Bool) -> String {
        "{\"time\":\(AuditText.json(time)),\"action\":\"blocked\",\"kind\":\"dns\",\"name\":\(AuditText.json(name)),"
            + "\"type\":\(AuditText.json(type)),\"answer\":\"NXDOMAIN\",\"transport\":\"\(tcp ? "tcp" : "udp")\"}\n"
    }

    /// After the loop returned: the line that counts what the limits left out.
    func finishLog() {
        guard let log, suppressed > 0 else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let time = AuditEvent.isoTime(seconds: Int64(now.tv_sec), nanoseconds: Int64(now.tv_nsec))
        _ = log.write(Array("{\"time\":\(AuditText.json(time)),\"action\":\"suppressed\",\"kind\":\"dns\",\"count\":\(suppressed)}\n".utf8))
    }

    var report: DNSReport {
        var result = DNSReport()
        result.questions = questions
        result.names = names
        result.otherQuestions = otherQuestions
        result.malformed = stats.malformed
        result.dropped = stats.dropped
        result.tcpRefused = stats.tcp_refused
        result.tcpTimedOut = stats.tcp_timed_out
        result.logSuppressed = suppressed
        return result
    }

    /// A wire-form name (length-prefixed labels) in dig's presentation form: letters,
    /// digits and other printable ASCII as they are, "." and "\" escaped, every other
    /// byte (controls, ESC, UTF-8) as \DDD; the root is ".". Never longer than 4 × 255.
    static func presentation<C: Collection>(_ wire: C) -> String where C.Element == UInt8, C.Index == Int {
        var out: [UInt8] = []
        var at = wire.startIndex
        while at < wire.endIndex {
            let length = Int(wire[at])
            at += 1
            if length == 0 { break }
            if !out.isEmpty { out.append(UInt8(ascii: ".")) }
            let end = min(at + length, wire.endIndex)
            while at < end {
                let byte = wire[at]
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: "\\"):
                    out += [UInt8(ascii: "\\"), byte]
                case 0x21...0x7e:
                    out.append(byte)
                default:
                    let digits = String(byte)
                    out.append(UInt8(ascii: "\\"))
                    out += Array(String(repeating: "0", count: 3 - digits.count).utf8) + Array(digits.utf8)
                }
                at += 1
            }
        }
        return out.isEmpty ? "." : String(decoding: out, as: UTF8.self)
    }

    static func typeName(_ type: UInt16) -> String {
        switch type {
        case 1: "A"
        case 2: "NS"
        case 5: "CNAME"
        case 6: "SOA"
        case 12: "PTR"
        case 15: "MX"
        case 16: "TXT"
        case 28: "AAAA"
        case 33: "SRV"
        case 35: "NAPTR"
        case 64: "SVCB"
        case 65: "HTTPS"
        case 255: "ANY"
        default: "TYPE\(type)"
        }
    }
}
