/// The seccomp part of the plan, resolved to numbers with libseccomp so the
/// launcher only has to hand it to libseccomp again.
public struct SeccompPlan: Codable, Equatable, Sendable {
    /// libseccomp's name of the native architecture ("x86_64", "aarch64", ...).
    public var architecture: String
    public var defaultAction: SeccompAction
    /// What happens to a syscall made through another ABI (i386 `int $0x80`, x32).
    public var otherArchitectures: SeccompAction
    /// In the order they are added; rules whose action equals the default are not listed.
    public var rules: [SeccompRule]

    public init(architecture: String, defaultAction: SeccompAction,
                otherArchitectures: SeccompAction, rules: [SeccompRule]) {
        self.architecture = architecture
        self.defaultAction = defaultAction
        self.otherArchitectures = otherArchitectures
        self.rules = rules
    }
}

public enum SeccompAction: Equatable, Hashable, Sendable, Codable, CustomStringConvertible {
    case allow
    /// Fail the call with this errno (name kept for display, number for the filter).
    case errno(name: String, number: Int32)
    case killProcess
    case killThread
    case trap
    case log

    public var description: String {
        switch self {
        case .allow: "allow"
        case .errno(let name, _): "errno(\(name))"
        case .killProcess: "kill-process"
        case .killThread: "kill-thread"
        case .trap: "trap"
        case .log: "log"
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        switch text {
        case "allow": self = .allow
        case "kill-process": self = .killProcess
        case "kill-thread": self = .killThread
        case "trap": self = .trap
        case "log": self = .log
        default:
            guard text.hasPrefix("errno("), text.hasSuffix(")"),
                  let number = ErrnoNames.number(String(text.dropFirst(6).dropLast()))
            else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                        debugDescription: "bad seccomp action \(text)"))
            }
            self = .errno(name: String(text.dropFirst(6).dropLast()), number: number)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

public struct SeccompRule: Codable, Equatable, Sendable {
    public var syscall: String
    /// The native syscall number from libseccomp (negative for a pseudo-syscall that
    /// does not exist on this architecture; libseccomp then adds nothing).
    public var number: Int32
    public var action: SeccompAction
    /// All conditions must hold (AND), as in libseccomp.
    public var args: [ArgCondition]
    /// The group (without '@') or rule that asked for it, for people reading the plan.
    public var reason: String?
    public var origin: Origin?

    public init(syscall: String, number: Int32, action: SeccompAction, args: [ArgCondition] = [],
                reason: String? = nil, origin: Origin? = nil) {
        self.syscall = syscall
        self.number = number
        self.action = action
        self.args = args
        self.reason = reason
        self.origin = origin
    }
}

public struct ArgCondition: Codable, Equatable, Sendable {
    public enum Op: String, Codable, Sendable, CaseIterable {
        case eq, ne, lt, le, gt, ge
        /// (arg & mask) == value
        case maskedEq = "masked-eq"
    }
    /// Argument index, 0...5.
    public var index: Int
    public var op: Op
    public var value: UInt64
    public var mask: UInt64?
    /// 32 compares only the low 32 bits (ioctl requests: the CVE-2019-10063 high-bit
    /// variant of TIOCSTI must still match).
    public var width: Int

    public init(index: Int, op: Op, value: UInt64, mask: UInt64? = nil, width: Int = 64) {
        self.index = index
        self.op = op
        self.value = value
        self.mask = mask
        self.width = width
    }
}
