import Foundation
import Testing

/// lpa-run carries no Foundation-with-ICU: ICU was ~35 MB of the binary and ~1 ms of
/// every start-up (issue 16), and came in only through Yams and the project's own
/// `import Foundation`. The project's sources use FoundationEssentials or Glibc; this
/// reads the built executable and fails if any part of ICU or of the Foundation
/// modules built on it is back, whether linked statically (release, `make test`) or as
/// a shared library (a debug build).
@Suite("lpa-run links no ICU")
struct BinaryDependencyTests {
    /// What each way of linking ICU leaves in the file: Swift symbols of the module
    /// built on ICU, ICU's own functions and its data blob (icudtNN_dat), and the
    /// shared libraries' names in a dynamic executable.
    static let markers = [
        "FoundationInternationalization", "_FoundationICU", "icudt", "ucol_open", "ubrk_open",
        "libFoundation.so", "lib_FoundationICU.so", "libFoundationInternationalization.so",
    ]

    /// The Swift program the suite tests (lpa-run-core; the front, lpa-run, is C): the
    /// shipped one in LPA_TEST_BINARIES (`make test`,
    /// which CI must use), else the one built next to this test bundle.
    static func executable() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let shipped = environment["LPA_TEST_BINARIES"], !shipped.isEmpty {
            return shipped + "/lpa-run-core"
        }
        try #require(environment["CI"] != "true", "CI must test the shipped binary: set LPA_TEST_BINARIES (make test does)")
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        // swift test runs .build/<triple>/debug/<name>PackageTests.xctest
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("lpa-run-core").path
    }

    @Test("the lpa-run executable holds no ICU symbol, data or library name")
    func noICU() throws {
        let path = try Self.executable()
        let data = try #require(FileManager.default.contents(atPath: path), "no lpa-run at \(path): build it first")
        #expect(data.count > 1_000_000, "\(path) is too small to be lpa-run")
        let found = Self.markers.filter { data.range(of: Data($0.utf8)) != nil }
        #expect(found.isEmpty, "\(path) contains \(found): something brought Foundation (with ICU) back; use FoundationEssentials or Glibc")
    }
}
