#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An IPv4 or IPv6 address, parsed once (by the compiler) and carried as bytes, so the
/// launcher builds its socket addresses without parsing text again. In JSON it is the
/// address's canonical text ("127.0.0.1", "::1").
public struct IPAddress: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// Network byte order: 4 bytes for IPv4, 16 for IPv6.
    public let bytes: [UInt8]

    public var isIPv6: Bool { bytes.count == 16 }

    /// Strict inet_pton(3) rules: a dotted quad, or an IPv6 address without brackets.
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        bytes = withUnsafeBytes(of: &v6) { Array($0) }
    }

    /// For tests and constants; a literal that is not an address is a programming error.
    public init(stringLiteral value: String) {
        guard let address = IPAddress(value) else { preconditionFailure("not an IP address: \(value)") }
        self = address
    }

    /// 127.0.0.0/8, ::1, or 127.0.0.0/8 mapped into IPv6 (::ffff:127.0.0.1). The audit
    /// supervisor (audit.c `lpa_audit_is_loopback`) agrees.
    public var isLoopback: Bool {
        if !isIPv6 { return bytes[0] == 127 }
        let isV6Loopback = bytes.dropLast().allSatisfy { $0 == 0 } && bytes[15] == 1
        let isMappedV4Loopback = bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
            && bytes[12] == 127
        return isV6Loopback || isMappedV4Loopback
    }

    /// inet_ntop(3): the canonical text.
    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv6 ? AF_INET6 : AF_INET
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "not an IP address: '\(text)'"))
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
