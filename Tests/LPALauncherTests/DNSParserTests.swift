import Testing
import LPASandbox

/// The DNS sink's parser (dns.c) on hand-made queries: every hostile shape is refused
/// (FORMERR) or ignored, never followed; a good question is answered NXDOMAIN with
/// exactly itself.
@Suite("DNS sink parser")
struct DNSParserTests {
    static func header(id: UInt16 = 0x1234, flags: UInt16 = 0x0100, questions: UInt16 = 1) -> [UInt8] {
        [UInt8(id >> 8), UInt8(id & 0xff), UInt8(flags >> 8), UInt8(flags & 0xff), 0, UInt8(questions), 0, 0, 0, 0, 0, 0]
    }
    static func wire(_ name: String) -> [UInt8] {
        name.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }
    static let typeA: [UInt8] = [0, 1, 0, 1]

    @Test("a question is answered NXDOMAIN with its id, flags and the question echoed")
    func answersNXDOMAIN() {
        let query = Self.header() + Self.wire("api.openai.com") + [0, 28, 0, 1]
        let outcome = DNSFuzzTargets.respond(query)
        #expect(outcome.rcode == 3)
        #expect(outcome.answer.count == query.count)
        #expect(Array(outcome.answer[0..<2]) == [0x12, 0x34])
        #expect(outcome.answer[2] & 0x80 != 0 && outcome.answer[2] & 0x01 != 0, "QR set, RD kept")
        #expect(outcome.answer[3] & 0x0f == 3)
        #expect(Array(outcome.answer[12...]) == Array(query[12...]))
        #expect(outcome.name == "api.openai.com" && outcome.type == 28)
    }

    @Test("EDNS's OPT record after the question is ignored, not echoed")
    func ednsIgnored() {
        let opt: [UInt8] = [0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]
        var query = Self.header() + Self.wire("a.example") + Self.typeA + opt
        query[11] = 1
        let outcome = DNSFuzzTargets.respond(query)
        #expect(outcome.rcode == 3 && outcome.answer.count == 12 + Self.wire("a.example").count + 4)
        #expect(outcome.answer[11] == 0, "no additional record in the answer")
    }

    @Test("compression pointers, long labels and names, truncation and QDCOUNT≠1 are FORMERR",
          arguments: [
            ("pointer", header() + [0xc0, 0x0c] + typeA),
            ("pointer loop", header() + [3, 97, 98, 99, 0xc0, 0x0c]),
            ("extended label", header() + [0x41, 0] + typeA),
            ("label of 64", header() + [64] + [UInt8](repeating: 97, count: 64) + [0] + typeA),
            ("name of 256", header() + Array(repeating: [63] + [UInt8](repeating: 98, count: 63), count: 4).flatMap { $0 }
                + [0] + typeA),
            ("truncated name", header() + [16, 97, 98]),
            ("no type", header() + wire("a.example") + [0]),
            ("two questions", header(questions: 2) + wire("a.example") + typeA),
            ("no question", header(questions: 0)),
          ] as [(String, [UInt8])])
    func malformedIsFormerr(_ shape: String, _ query: [UInt8]) {
        let outcome = DNSFuzzTargets.respond(query)
        #expect(outcome.rcode == 1, "\(shape)")
        #expect(outcome.answer.count == 12 && outcome.answer[3] & 0x0f == 1, "\(shape)")
        #expect(outcome.wireName == nil, "\(shape)")
    }

    @Test("the longest legal name (255 bytes on the wire) is accepted")
    func longestName() {
        let labels = Array(repeating: [63] + [UInt8](repeating: 99, count: 63), count: 3).flatMap { $0 }
            + [61] + [UInt8](repeating: 100, count: 61) + [0]
        #expect(labels.count == 255)
        let outcome = DNSFuzzTargets.respond(Self.header() + labels + Self.typeA)
        #expect(outcome.rcode == 3 && outcome.wireName?.count == 255)
    }

    @Test("responses and runts get no answer; other opcodes NOTIMP")
    func ignoredAndNotImplemented() {
        #expect(DNSFuzzTargets.respond([1, 2, 3]).answer.isEmpty)
        #expect(DNSFuzzTargets.respond(Self.header(flags: 0x8180) + Self.wire("a.example") + Self.typeA).answer.isEmpty)
        let status = DNSFuzzTargets.respond(Self.header(flags: 0x1000) + Self.wire("a.example") + Self.typeA)
        #expect(status.rcode == 4 && status.answer.count == 12)
    }

    @Test("names are shown in dig's presentation form: controls, escapes and dots inside labels as \\DDD or \\.")
    func presentation() {
        let query = Self.header() + [7, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x2e, 0x07] + [1, 0x5c] + [0] + Self.typeA
        let outcome = DNSFuzzTargets.respond(query)
        #expect(outcome.name == "\\027[31m\\.\\007.\\\\")
        #expect(DNSFuzzTargets.respond(Self.header() + [0] + Self.typeA).name == ".")
    }
}
