import LPAPolicy
import Testing
@testable import lpa_run_core

/// --ro, --rw and --tmpfs keep argv order and each option's position in lpa-run's argv
/// (argv[0] is lpa-run), which provenance and errors report.
struct CommandLineBindOptionTests {
    @Test func bindsKeepOrderAndArgvPositions() throws {
        let options = try RunOptionParser.parse(["--profile", "strict", "--ro", "/a", "--rw=/b:/c", "--tmpfs", "/t:1M"])
        #expect(options.binds == [CommandLineBind(.readOnly, "/a", position: 3),
                                  CommandLineBind(.readWrite, "/b:/c", position: 5),
                                  CommandLineBind(.tmpfs, "/t:1M", position: 6)])
        #expect(options.position == 0)
        #expect(options.overrides.binds == options.binds)
    }

    @Test func theCommandPositionFollowsTheOptions() throws {
        // lpa-run --ro /a -- tool: "tool" is argv[4]; without "--", argv[3].
        #expect(try ArgumentSplitter.split(["--ro", "/a", "--", "tool", "-m", "x"]).commandPosition == 4)
        #expect(try ArgumentSplitter.split(["--ro", "/a", "tool", "-m", "x"]).commandPosition == 3)
        #expect(try ArgumentSplitter.split(["tool"]).commandPosition == 1)
    }
}
