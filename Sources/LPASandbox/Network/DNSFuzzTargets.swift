import CSupervisor

/// The DNS sink's parser (dns.c) and the text made from what it returns, for the fuzzer
/// (Sources/lpa-fuzz, target `dns`) and the tests: a query is hostile bytes from the
/// sandbox.
public enum DNSFuzzTargets {
    public struct Outcome: Sendable {
        /// What would be sent back (empty: nothing).
        public var answer: [UInt8]
        public var rcode: Int32
        /// The question, when it parsed: wire form, type, and the text the log and the
        /// report would carry.
        public var wireName: [UInt8]?
        public var type: UInt16
        public var name: String?
        public var logLine: String?
    }

    public static func respond(_ query: [UInt8]) -> Outcome {
        var answer = [UInt8](repeating: 0, count: Int(LPA_DNS_ANSWER_MAX))
        var question = lpa_dns_question()
        var hasQuestion: Int32 = 0
        var rcode: Int32 = 0
        let length = query.withUnsafeBufferPointer { q in
            answer.withUnsafeMutableBufferPointer { a in
                lpa_dns_respond(q.baseAddress, q.count, a.baseAddress, a.count, &question, &hasQuestion, &rcode)
            }
        }
        var outcome = Outcome(answer: Array(answer.prefix(length)), rcode: rcode, wireName: nil, type: 0)
        if hasQuestion != 0 {
            let wire = withUnsafeBytes(of: question.name) { Array($0.prefix(question.name_length)) }
            outcome.wireName = wire
            outcome.type = question.type
            let name = DNSRecorder.presentation(wire)
            outcome.name = name
            outcome.logLine = DNSRecorder.jsonLine(time: "2026-01-01T00:00:00.000Z", name: name,
                                                   type: DNSRecorder.typeName(question.type), tcp: false)
        }
        return outcome
    }

    /// The limits the parser promises (lpa_dns.h).
    public static var nameMax: Int { Int(LPA_DNS_NAME_MAX) }
    public static var labelMax: Int { Int(LPA_DNS_LABEL_MAX) }
    public static var answerMax: Int { Int(LPA_DNS_ANSWER_MAX) }
}
