#if canImport(Glibc)
import Glibc
#endif
import CSeccomp
import Foundation
import LPAPolicy
@testable import LPASandbox
import Testing

/// Seccomp programs kept between runs (LPASandbox/Seccomp/FilterCache.swift): a kept
/// program must be byte for byte what libseccomp builds for exactly the same calls, and
/// a cache file lpa-run did not write is never used.
@Suite("seccomp filter cache", .serialized)
struct FilterCacheTests {
    static func directory(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "lpa-filter-cache-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        return path
    }

    static func bytes(_ filter: SeccompFilter) -> [UInt8] { filter.instructions.withUnsafeBytes { Array($0) } }

    @Test("a kept program is the one libseccomp builds, for every built-in profile, audited and in record mode",
          arguments: SeccompFilterTests.profiles)
    func keptProgramsAreLibseccompsOwn(_ reference: String) throws {
        let directory = Self.directory("same")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plan = try SeccompFilterTests.plan(reference)
        for record in [false, true] {
            let fresh = try SeccompFilter(plan: plan.seccomp, audit: plan.audit, record: record)
            let first = try SeccompFilter(plan: plan.seccomp, audit: plan.audit, record: record,
                                          cache: FilterCache(directory: directory))
            // A new cache object reads the file the first one wrote.
            let reread = FilterCache(directory: directory)
            let second = try SeccompFilter(plan: plan.seccomp, audit: plan.audit, record: record, cache: reread)
            #expect(Self.bytes(first) == Self.bytes(fresh))
            #expect(Self.bytes(second) == Self.bytes(fresh), "the kept program differs (record \(record))")
            #expect(second.auditRules.map(\.number) == fresh.auditRules.map(\.number))
        }
        #expect(FileManager.default.fileExists(atPath: directory + "/" + FilterCache.fileName))
    }

    @Test("the key holds every input: action, errno, syscall, each comparison, their order, the default")
    func keyCoversEveryInput() {
        let base = [SeccompFilter.RuleCall(action: 0x0005_0001, number: 165, conditions: [], what: "mount"),
                    SeccompFilter.RuleCall(action: 0x0005_0061, number: 41,
                                           conditions: [scmp_arg_cmp(arg: 0, op: SCMP_CMP_EQ, datum_a: 16, datum_b: 0)],
                                           what: "socket")]
        func key(_ calls: [SeccompFilter.RuleCall], defaultAction: UInt32 = 0x7fff_0000) -> [UInt8] {
            FilterCache.key(defaultAction: defaultAction, otherArchitectures: 0x8000_0000, calls: calls)
        }
        var variants: [[UInt8]] = [key(base), key(base, defaultAction: 0x0005_0001), key(Array(base.reversed())),
                                   key(Array(base.dropLast()))]
        var errno = base; errno[0].action = 0x0005_0002; variants.append(key(errno))
        var number = base; number[0].number = 166; variants.append(key(number))
        var datum = base; datum[1].conditions[0].datum_a = 17; variants.append(key(datum))
        var datumB = base; datumB[1].conditions[0].datum_b = 1; variants.append(key(datumB))
        var op = base; op[1].conditions[0].op = SCMP_CMP_NE; variants.append(key(op))
        var arg = base; arg[1].conditions[0].arg = 1; variants.append(key(arg))
        var more = base; more[1].conditions.append(scmp_arg_cmp(arg: 1, op: SCMP_CMP_EQ, datum_a: 1, datum_b: 0))
        variants.append(key(more))
        #expect(Set(variants).count == variants.count, "two different inputs share a key")
        // The message is not an input: the same calls with other names share the key.
        var renamed = base; renamed[0].what = "other"
        #expect(key(renamed) == key(base))
    }

    @Test("a cache file that is not the caller's, is writable by others, or is not in the format is not used")
    func foreignOrDamagedFilesAreIgnored() throws {
        let directory = Self.directory("foreign")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plan = try SeccompFilterTests.plan("strict")
        let fresh = try SeccompFilter(plan: plan.seccomp, audit: plan.audit)
        _ = try SeccompFilter(plan: plan.seccomp, audit: plan.audit, cache: FilterCache(directory: directory))
        let path = directory + "/" + FilterCache.fileName
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        // An allow-all program under the right key: used only if the file is trusted.
        let key = try #require(FilterCache.parse(Array(good))?.first?.key)
        let allowAll = [UInt8](repeating: 0, count: 8).enumerated().map { $0.offset == 0 ? 0x06 : $0.offset == 6 ? 0xff : $0.offset == 7 ? 0x7f : $0.element }
        let planted = FilterCache.format([FilterCache.Entry(key: key, program: allowAll)])
        func used(_ bytes: [UInt8], mode: mode_t, owner: uid_t = geteuid()) throws -> Bool {
            unlink(path)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            chmod(path, mode)
            chown(path, owner, owner)
            let filter = try SeccompFilter(plan: plan.seccomp, audit: plan.audit, cache: FilterCache(directory: directory))
            return Self.bytes(filter) != Self.bytes(fresh)
        }
        #expect(try used(planted, mode: 0o600), "control: the caller's own file is used")
        #expect(!(try used(planted, mode: 0o622)), "a file others may write was used")
        if geteuid() == 0 {
            #expect(!(try used(planted, mode: 0o600, owner: 65534)), "another user's file was used")
        }
        for damaged in [Array(planted.dropLast()), Array(planted.dropFirst()), planted + [0], Array(planted.prefix(40)),
                        FilterCache.header + [8, 0, 0, 0, 7, 0, 0, 0] + key.prefix(8) + [1, 2, 3, 4, 5, 6, 7] + FilterCache.trailer] {
            #expect(!(try used(damaged, mode: 0o600)), "a damaged file was used")
        }
        // The cache directory itself a link: not used.
        unlink(path)
        let real = directory + "-real"
        try? FileManager.default.removeItem(atPath: real)
        try FileManager.default.moveItem(atPath: directory, toPath: real)
        defer { try? FileManager.default.removeItem(atPath: real) }
        #expect(symlink(real, directory) == 0)
        try Data(planted).write(to: URL(fileURLWithPath: real + "/" + FilterCache.fileName))
        chmod(real + "/" + FilterCache.fileName, 0o600)
        let linked = try SeccompFilter(plan: plan.seccomp, audit: plan.audit, cache: FilterCache(directory: directory))
        #expect(Self.bytes(linked) == Self.bytes(fresh), "a cache directory reached through a link was used")
        unlink(directory)
    }
}
