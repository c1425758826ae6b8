#if canImport(Glibc)
import Glibc
#endif
import CSupervisor
import Testing

/// audit.c decides which connections stay on this machine (continued) and which
/// leave it (ENETUNREACH, recorded). EndpointParser.isLoopback must agree.
@Suite("audit loopback classification")
struct LoopbackTests {
    static func isLoopback<Address>(_ address: Address, length: Int = MemoryLayout<Address>.size) -> Bool {
        withUnsafeBytes(of: address) { lpa_audit_is_loopback($0.baseAddress, length) != 0 }
    }

    static func v4(_ text: String) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(80).bigEndian
        #expect(inet_pton(AF_INET, text, &a.sin_addr) == 1)
        return a
    }

    static func v6(_ text: String) -> sockaddr_in6 {
        var a = sockaddr_in6()
        a.sin6_family = sa_family_t(AF_INET6)
        a.sin6_port = UInt16(80).bigEndian
        #expect(inet_pton(AF_INET6, text, &a.sin6_addr) == 1)
        return a
    }

    @Test("all of 127.0.0.0/8 is loopback, nothing else in IPv4")
    func ipv4() {
        #expect(Self.isLoopback(Self.v4("127.0.0.1")))
        #expect(Self.isLoopback(Self.v4("127.255.3.4")))
        #expect(!Self.isLoopback(Self.v4("203.0.113.7")))
        #expect(!Self.isLoopback(Self.v4("0.0.0.0")))
    }

    @Test("::1 and IPv4-mapped 127.0.0.0/8 are loopback; :: and other mapped addresses are not")
    func ipv6() {
        #expect(Self.isLoopback(Self.v6("::1")))
        #expect(Self.isLoopback(Self.v6("::ffff:127.0.0.1")))
        #expect(Self.isLoopback(Self.v6("::ffff:127.9.8.7")))
        #expect(!Self.isLoopback(Self.v6("::ffff:10.0.0.1")))
        #expect(!Self.isLoopback(Self.v6("::127.0.0.1")))
        #expect(!Self.isLoopback(Self.v6("::")))
        #expect(!Self.isLoopback(Self.v6("2001:db8::1")))
    }

    @Test("unix sockets stay on the machine; an address too short for a family does not")
    func otherFamilies() {
        var unix = sockaddr_un()
        unix.sun_family = sa_family_t(AF_UNIX)
        #expect(Self.isLoopback(unix))
        #expect(!Self.isLoopback(Self.v4("127.0.0.1"), length: 1))
        #expect(!Self.isLoopback(Self.v4("127.0.0.1"), length: 0))
    }
}
