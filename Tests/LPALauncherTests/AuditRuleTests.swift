#if canImport(Glibc)
import Glibc
#endif
import CSupervisor
@testable import LPASandbox
import Testing

/// The syscall knowledge handed to audit.c: which argument it reads, and how the
/// detail of a log entry reads.
@Suite("audit rule descriptions")
struct AuditRuleTests {
    @Test("connect: the address is argument 1, its length argument 2")
    func connect() {
        let detail = AuditDetail(syscall: "connect")
        #expect(detail == .address(argument: 1, length: 2))
        #expect(detail.roles == [.value, .address, .length, .value, .value, .value])
        #expect(detail.addressArgument == 1)
    }

    @Test("sendto: the address is argument 4, its length argument 5")
    func sendto() {
        let detail = AuditDetail(syscall: "sendto")
        #expect(detail == .address(argument: 4, length: 5))
        #expect(detail.roles == [.value, .value, .value, .value, .address, .length])
        #expect(detail.addressArgument == 4)
    }

    @Test("paths: openat and openat2 argument 1, open and creat argument 0, mount's target argument 1")
    func paths() {
        #expect(AuditDetail(syscall: "openat") == .string(label: "path", argument: 1))
        #expect(AuditDetail(syscall: "openat2").roles == [.value, .string, .value, .value, .value, .value])
        #expect(AuditDetail(syscall: "open") == .string(label: "path", argument: 0))
        #expect(AuditDetail(syscall: "creat").roles == [.string, .value, .value, .value, .value, .value])
        #expect(AuditDetail(syscall: "mount") == .string(label: "target", argument: 1))
        #expect(AuditDetail(syscall: "umount2") == .string(label: "path", argument: 0))
    }

    @Test("numbers only: socket family, ptrace request, ioctl request, clone flags; other calls no detail")
    func numbers() {
        #expect(AuditDetail(syscall: "socket") == .family(argument: 0))
        #expect(AuditDetail(syscall: "ptrace") == .ptrace)
        #expect(AuditDetail(syscall: "ioctl") == .hex(label: "request", argument: 1))
        #expect(AuditDetail(syscall: "unshare") == .hex(label: "flags", argument: 0))
        #expect(AuditDetail(syscall: "kexec_load") == AuditDetail.none)
        #expect(AuditDetail(syscall: "socket").roles.allSatisfy { $0 == .value })
    }

    @Test("audit.c gets the roles as numbers, with the rule's answer")
    func cRule() {
        let rule = AuditRule(number: 42, kind: .egress, errno: ENETUNREACH, syscall: "connect", errnoName: "ENETUNREACH")
        let c = rule.cRule
        #expect(c.nr == 42 && c.kind == LPA_AUDIT_EGRESS.rawValue && c.err == ENETUNREACH)
        let roles = withUnsafeBytes(of: c.roles) { Array($0) }
        #expect(roles == [LPA_AUDIT_ARG_VALUE, LPA_AUDIT_ARG_ADDRESS, LPA_AUDIT_ARG_LENGTH,
                          LPA_AUDIT_ARG_VALUE, LPA_AUDIT_ARG_VALUE, LPA_AUDIT_ARG_VALUE].map { UInt8($0.rawValue) })
    }

    @Test("details from numbers")
    func numberDetails() {
        #expect(AuditDetail(syscall: "socket").describe(arguments: [10, 1, 0], data: []) == "family inet6")
        #expect(AuditDetail(syscall: "socketpair").describe(arguments: [99], data: []) == "family 99")
        #expect(AuditDetail(syscall: "ptrace").describe(arguments: [16, 0xffff_ffff], data: []) == "request 16 pid -1")
        #expect(AuditDetail(syscall: "ioctl").describe(arguments: [3, 0x5412], data: []) == "request 0x5412")
        #expect(AuditDetail(syscall: "clone").describe(arguments: [0x1000_0000], data: []) == "flags 0x10000000")
        #expect(AuditDetail(syscall: "kexec_load").describe(arguments: [1, 2], data: []).isEmpty)
    }

    @Test("details from bytes read: a path, and an unreadable one")
    func pathDetails() {
        let openat = AuditDetail(syscall: "openat")
        #expect(openat.describe(arguments: [0, 0x1000], data: [nil, Array("/etc/shadow".utf8)]) == "path /etc/shadow")
        #expect(openat.describe(arguments: [0, 0], data: [nil, nil]) == "path ")
    }

    static func bytes<T>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    @Test("socket addresses: IPv4, IPv6, unix, abstract, unknown family, unreadable")
    func addresses() {
        var v4 = sockaddr_in()
        v4.sin_family = sa_family_t(AF_INET)
        v4.sin_port = UInt16(443).bigEndian
        inet_pton(AF_INET, "203.0.113.7", &v4.sin_addr)
        #expect(AuditDetail.describeAddress(Self.bytes(v4)) == "203.0.113.7:443")

        var v6 = sockaddr_in6()
        v6.sin6_family = sa_family_t(AF_INET6)
        v6.sin6_port = UInt16(80).bigEndian
        inet_pton(AF_INET6, "::1", &v6.sin6_addr)
        #expect(AuditDetail.describeAddress(Self.bytes(v6)) == "[::1]:80")

        var unix = sockaddr_un()
        unix.sun_family = sa_family_t(AF_UNIX)
        #expect(AuditDetail.describeAddress(Self.bytes(unix)) == "unix:@abstract")
        withUnsafeMutableBytes(of: &unix.sun_path) { raw in
            for (i, byte) in "/run/x.sock".utf8.enumerated() { raw[i] = byte }
        }
        #expect(AuditDetail.describeAddress(Self.bytes(unix)) == "unix:/run/x.sock")

        #expect(AuditDetail.describeAddress([17, 0]) == "family 17")
        #expect(AuditDetail.describeAddress([2]) == "unreadable address")
        #expect(AuditDetail(syscall: "sendto").describe(arguments: [3, 0, 5, 0, 0x1000, 16], data: []) == "unreadable address")
    }
}
