import Foundation
import Testing

/// Once the workload runs, lpa-run only supervises, and gives back the resident pages of
/// its binary that only start-up used (CSupervisor/shed.c, called from Launcher).
@Suite("supervisor memory", .serialized)
struct SupervisorMemoryTests {
    @Test("the supervising parent drops its start-up pages: RSS and its binary's pages far below the peak",
          arguments: Runner.all)
    func startupPagesAreShed(runner: Runner) throws {
        let running = try RunningSandbox(runner: runner, probe: ["wait-signal"])
        let (shed, last) = Self.awaitShed(running)
        #expect(shed, "start-up pages still resident: \(last)")
        // And it still supervises: the workload stops on SIGTERM, forwarded by lpa-run.
        kill(running.pid, SIGTERM)
        let (status, output) = running.finish()
        #expect(status == 0, "\(output)")
    }

    /// The kernel measured the figure before the shed: VmHWM is the resident peak,
    /// start-up included, when the binary's pages were all resident. Without the shed
    /// VmRSS stays at that peak and most of it is the binary (13 of 18 MiB in a release
    /// build). The shed follows the workload's start by a moment: this polls (the
    /// condition, not a duration, is what is tested).
    static func awaitShed(_ running: RunningSandbox) -> (Bool, String) {
        guard (try? running.waitForLine("ready")) != nil else { return (false, "the probe never said ready") }
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(running.pid)/exe")
        else { return (false, "no /proc/\(running.pid)/exe") }
        var last = ""
        let deadline = Date().addingTimeInterval(15)
        repeat {
            guard let status = try? String(contentsOfFile: "/proc/\(running.pid)/status", encoding: .utf8),
                  let binary = try? residentKilobytes(pid: running.pid, of: executable)
            else { return (false, "lpa-run's /proc entries vanished; \(last)") }
            let peak = kilobytes(status, "VmHWM"), resident = kilobytes(status, "VmRSS")
            last = "VmHWM \(peak) kB, VmRSS \(resident) kB, \(executable) resident \(binary) kB"
            if peak > 0 && resident * 2 < peak && binary * 4 < peak { return (true, last) }
            usleep(50_000)
        } while Date() < deadline
        return (false, last)
    }

    static func kilobytes(_ status: String, _ key: String) -> Int {
        for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
        }
        return 0
    }

    /// The Rss of every mapping of `path` in /proc/PID/smaps (root reads any process's).
    static func residentKilobytes(pid: pid_t, of path: String) throws -> Int {
        let smaps = try String(contentsOfFile: "/proc/\(pid)/smaps", encoding: .utf8)
        var inside = false
        var total = 0
        for line in smaps.split(separator: "\n") {
            let range = line.prefix(while: { $0 != " " })
            if range.contains("-") && range.allSatisfy({ $0.isHexDigit || $0 == "-" }) {  // a mapping's header
                inside = line.hasSuffix(" " + path)
            } else if inside && line.hasPrefix("Rss:") {
                total += kilobytes(String(line), "Rss")
            }
        }
        return total
    }
}
