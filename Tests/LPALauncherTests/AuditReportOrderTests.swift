#if canImport(Glibc)
import Glibc
#endif
import CSupervisor
import Foundation
@testable import LPASandbox
import Testing

/// The audit supervisor's account for the exit report, fed through audit.c's sink:
/// refusals handled by design counted apart, what matters first, destinations bounded.
@Suite("audit report: expected refusals, order, destinations")
struct AuditReportOrderTests {
    static let rules = [
        AuditRule(number: 312, kind: .deny, errno: EPERM, syscall: "kcmp", errnoName: "EPERM"),
        AuditRule(number: 165, kind: .deny, errno: EPERM, syscall: "mount", errnoName: "EPERM"),
        AuditRule(number: 435, kind: .deny, errno: ENOSYS, syscall: "clone3", errnoName: "ENOSYS",
                  expected: "glibc falls back to clone"),
        AuditRule(number: 42, kind: .egress, errno: ENETUNREACH, syscall: "connect", errnoName: "ENETUNREACH"),
    ]

    /// One record of `rule`; for connect, the sockaddr_in of 203.0.113.X:port.
    static func feed(_ supervisor: AuditSupervisor, rule: UInt32, host: UInt8 = 7, port: UInt16 = 443, count: Int = 1) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: [203, 0, 113, host]) }
        let bytes = withUnsafeBytes(of: address) { Array($0) }
        bytes.withUnsafeBufferPointer { data in
            supervisor.withSpec { spec in
                for _ in 0..<count {
                    var raw = lpa_audit_record()
                    raw.rule = rule
                    raw.pid = 2
                    raw.data_length = (-1, -1, -1, -1, -1, -1)
                    if rule == 3 {
                        raw.data.1 = data.baseAddress
                        raw.data_length.1 = Int32(bytes.count)
                        raw.args.2 = UInt64(bytes.count)
                    }
                    spec.pointee.sink!(&raw, spec.pointee.context)
                }
            }
        }
    }

    @Test("expected refusals are counted apart and never blocked")
    func expectedCountedApart() throws {
        let supervisor = try AuditSupervisor(rules: Self.rules, log: nil)
        Self.feed(supervisor, rule: 2, count: 13)
        var report = supervisor.report
        #expect(report.blocked == 0)
        #expect(report.bySyscall.isEmpty)
        #expect(report.examples.isEmpty)
        #expect(report.expected == 13)
        #expect(report.expectedBySyscall.map(\.name) == ["clone3"])
        Self.feed(supervisor, rule: 1)
        report = supervisor.report
        #expect(report.blocked == 1 && report.expected == 13)
    }

    @Test("connections first, then files, then privileges, whatever came first; a flood cannot push the connection out")
    func whatMattersFirst() throws {
        let supervisor = try AuditSupervisor(rules: Self.rules, log: nil)
        Self.feed(supervisor, rule: 0, count: 50)  // kcmp: privilege
        Self.feed(supervisor, rule: 1, count: 2)   // mount: files
        Self.feed(supervisor, rule: 3)              // connect
        let report = supervisor.report
        #expect(report.bySyscall.map(\.name) == ["connect", "mount", "kcmp"])
        #expect(report.examples.count == 5)
        #expect(report.examples.first?.hasPrefix("connect 203.0.113.7:443 (ENETUNREACH)") == true, "\(report.examples)")
        #expect(report.examples.dropFirst().prefix(2).allSatisfy { $0.hasPrefix("mount") }, "\(report.examples)")
    }

    @Test("destinations: counted per address, at most 16 named, the rest counted")
    func destinationsAreBounded() throws {
        let supervisor = try AuditSupervisor(rules: Self.rules, log: nil)
        Self.feed(supervisor, rule: 3, host: 7, port: 53, count: 3)
        for host in UInt8(100)..<UInt8(140) { Self.feed(supervisor, rule: 3, host: host) }
        let report = supervisor.report
        #expect(report.destinations.count == AuditSupervisor.destinationLimit)
        #expect(report.destinations.first?.address == "203.0.113.7:53")
        #expect(report.destinations.first?.count == 3)
        #expect(report.otherDestinations == 40 - UInt64(AuditSupervisor.destinationLimit) + 1)
    }
}
