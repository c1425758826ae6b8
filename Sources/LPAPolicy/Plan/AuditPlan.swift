/// What the seccomp filter hands to lpa-run's supervisor (SECCOMP_RET_USER_NOTIF)
/// instead of answering in the kernel, so that each refusal is counted and logged.
/// The supervisor never turns a refusal into success: it answers with the outcome the
/// plan would have had without auditing.
public struct AuditPlan: Codable, Equatable, Sendable {
    public struct Call: Codable, Equatable, Sendable {
        public var syscall: String
        /// Native syscall number (libseccomp).
        public var number: Int32
        public var answer: Answer
        /// Why this refusal is expected, when programs meet it on every run and handle it
        /// by design (glibc's clone3 → clone fallback): the log marks it "expected" and the
        /// exit report counts it apart instead of calling the run "blocked". Policy, so
        /// it lives here and the log and the report cannot disagree.
        public var expected: String?
        public init(syscall: String, number: Int32, answer: Answer, expected: String? = nil) {
            self.syscall = syscall
            self.number = number
            self.answer = answer
            self.expected = expected
        }
    }

    public enum Answer: Equatable, Sendable, Codable, CustomStringConvertible {
        /// A call every rule of which denies with this errno: answered with it.
        case errno(name: String, number: Int32)
        /// connect, or sendto with an address: loopback continues (the sandbox's own
        /// network namespace is the barrier), anything else gets ENETUNREACH, which is
        /// what the empty network namespace answers anyway.
        case egress

        public var description: String {
            switch self {
            case .errno(let name, _): "errno(\(name))"
            case .egress: "egress"
            }
        }

        public init(from decoder: any Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            if text == "egress" {
                self = .egress
            } else if text.hasPrefix("errno("), text.hasSuffix(")"),
                      let number = ErrnoNames.number(String(text.dropFirst(6).dropLast())) {
                self = .errno(name: String(text.dropFirst(6).dropLast()), number: number)
            } else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                        debugDescription: "bad audit answer '\(text)'"))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(description)
        }
    }

    /// In seccomp rule order; egress calls last.
    public var calls: [Call]

    public init(calls: [Call] = []) { self.calls = calls }
}
