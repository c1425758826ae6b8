#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import LPAPolicy
import LPASandbox

/// libFuzzer targets for every parser of hostile bytes (docs/RELIABILITY.md). `make fuzz`
/// builds this with `-sanitize=fuzzer,address` and `-DLPA_LIBFUZZER`, and runs one
/// target per process, chosen by LPA_FUZZ_TARGET. Without LPA_LIBFUZZER (a plain
/// `swift build`) it is a small replay tool, so the package always builds.
enum FuzzTarget: String, CaseIterable {
    case profile, endpoint, size, audit, dns
    case startCaches = "start-caches"

    func run(_ bytes: [UInt8]) {
        switch self {
        case .profile: PolicyFuzzTargets.profile(bytes)
        case .endpoint: PolicyFuzzTargets.endpoint(bytes)
        case .size: PolicyFuzzTargets.size(bytes)
        case .audit: Self.audit(bytes)
        case .dns: Self.dns(bytes)
        case .startCaches: Self.startCaches(bytes)
        }
    }

    /// The start-up caches' files (socket walks, seccomp programs): refused whole or read
    /// whole. What is read is well formed (each walk's first directory is its root, every
    /// path absolute; every program a whole number of instructions, at most
    /// BPF_MAXINSNS) and writes back to exactly the bytes that were read.
    static func startCaches(_ bytes: [UInt8]) {
        if let walks = StartCacheFuzzTargets.walks(bytes) {
            for walk in walks {
                guard walk.root.hasPrefix("/"), walk.first == walk.root, walk.directories >= 1,
                      walk.sockets.allSatisfy({ $0.hasPrefix("/") }) else {
                    fatalError("a walk read with a wrong shape: \(walk.root.debugDescription)")
                }
            }
            // Written back: the same walks (invalid UTF-8 is the only thing that may change).
            guard let again = StartCacheFuzzTargets.walksRewritten(bytes),
                  StartCacheFuzzTargets.walks(again)?.count == walks.count else {
                fatalError("the walks file does not read back")
            }
        }
        if let filters = StartCacheFuzzTargets.filters(bytes) {
            for size in filters.sizes {
                guard size.key > 0, size.program > 0, size.program % 8 == 0,
                      size.program / 8 <= StartCacheFuzzTargets.maxInstructions else {
                    fatalError("a program read with a wrong size: \(size)")
                }
            }
            guard filters.rewritten == bytes else { fatalError("the filters file does not write back the same") }
        }
    }

    /// A DNS query (the sink's parser, dns.c): the answer fits its buffer and echoes the
    /// id; a question that parsed has labels of at most 63 bytes, at most 255 on the
    /// wire, ending with the root, and is answered NXDOMAIN with exactly it; the name's
    /// text is printable ASCII and its log line one line that reads back.
    static func dns(_ bytes: [UInt8]) {
        let outcome = DNSFuzzTargets.respond(bytes)
        let answer = outcome.answer
        guard answer.count <= DNSFuzzTargets.answerMax else { fatalError("answer longer than its buffer") }
        if !answer.isEmpty {
            guard answer.count >= 12, answer[0] == bytes[0], answer[1] == bytes[1], answer[2] & 0x80 != 0 else {
                fatalError("answer header wrong: \(answer.prefix(12))")
            }
        }
        guard let wire = outcome.wireName else { return }
        guard wire.count <= DNSFuzzTargets.nameMax, wire.last == 0, outcome.rcode == 3,
              answer.count == 12 + wire.count + 4, Array(answer[12..<(12 + wire.count)]) == wire else {
            fatalError("question accepted but malformed: \(wire)")
        }
        var at = 0
        while at < wire.count, wire[at] != 0 {
            guard Int(wire[at]) <= DNSFuzzTargets.labelMax else { fatalError("label over 63 bytes") }
            at += Int(wire[at]) + 1
        }
        guard at == wire.count - 1 else { fatalError("labels do not end at the root") }
        struct DNSLine: Decodable { var name: String }
        guard let name = outcome.name, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            fatalError("name text not printable ASCII: \(outcome.name.debugDescription)")
        }
        guard let line = outcome.logLine, line.hasSuffix("\n"), line.utf8.dropLast().allSatisfy({ $0 >= 0x20 && $0 < 0x7f }),
              let object = try? JSONDecoder().decode(DNSLine.self, from: Data(line.utf8)),
              object.name == name else {
            fatalError("dns log line does not read back: \(outcome.logLine.debugDescription)")
        }
    }

    /// The log line is one JSON object of printable ASCII whose strings read back as
    /// what the sandbox wrote (invalid UTF-8 as U+FFFD); the report line has no control
    /// character and stays within its byte limit.
    static func audit(_ bytes: [UInt8]) {
        let record = AuditFuzzTargets.record(bytes)
        let line = record.logLine
        guard line.hasSuffix("\n"), line.utf8.dropLast().allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else {
            fatalError("audit log line is not one line of printable ASCII: \(line.debugDescription)")
        }
        struct Strings: Decodable { var exe: String?; var detail: String? }
        guard let object = try? JSONDecoder().decode(Strings.self, from: Data(line.utf8)),
              object.exe == record.executable, object.detail == record.detail else {
            fatalError("audit log line does not read back: \(line)")
        }
        let report = record.reportLine
        guard report.utf8.count <= AuditFuzzTargets.reportLineLimit,
              report.unicodeScalars.allSatisfy({ $0.value >= 0x20 && !(0x7f...0x9f).contains($0.value)
                  && !(0x2028...0x202e).contains($0.value) && !(0x2066...0x2069).contains($0.value) }) else {
            fatalError("report line unsafe for a terminal: \(report.debugDescription)")
        }
    }

    static let current: FuzzTarget = {
        let name = getenv("LPA_FUZZ_TARGET").map { String(cString: $0) } ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let message = Array("lpa-fuzz: set LPA_FUZZ_TARGET to one of \(allCases.map(\.rawValue))\n".utf8)
            _ = write(2, message, message.count)
            exit(2)
        }
        return target
    }()
}

#if LPA_LIBFUZZER
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.current.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
#else
/// `lpa-fuzz TARGET FILE...`: runs files through a target (what a found crash replays).
@main
enum Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: lpa-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...  (make fuzz runs libFuzzer)")
            exit(2)
        }
        for path in arguments.dropFirst() {
            target.run(Array(FileManager.default.contents(atPath: path) ?? Data()))
        }
    }
}
#endif
