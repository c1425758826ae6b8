import Foundation
import Testing

/// Runs the built lpa-run for real, as root and as an unprivileged user. The binaries
/// are copied to a directory every user can read, as an installed copy would be.
struct Runner: CustomTestStringConvertible, Sendable {
    enum Who: String, Sendable { case caller, nobody }
    let who: Who

    var testDescription: String { who == .nobody ? "unprivileged (uid 65534)" : "as \(Runner.isRoot ? "root" : "the caller")" }

    static let isRoot = getuid() == 0
    /// Root runs every test twice: as itself and as nobody. An unprivileged caller
    /// already is the unprivileged case.
    static let all: [Runner] = isRoot ? [Runner(who: .caller), Runner(who: .nobody)] : [Runner(who: .caller)]

    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
        /// "name value" lines of lpa-probe output.
        var fields: [String: String] {
            var result: [String: String] = [:]
            for line in stdout.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            return result
        }
    }

    /// A home of the test's own for each runner: nothing a test (or a broken sandbox)
    /// writes lands in the real home of whoever runs the suite.
    /// The uid lpa-run runs as.
    var callerUid: uid_t { who == .nobody ? 65534 : getuid() }

    /// The host uid of the sandbox user: the caller's, and for root the sudo user's or
    /// nobody's (a root caller's workload is never host root).
    var sandboxUid: uid_t {
        guard callerUid == 0 else { return callerUid }
        let sudo = ProcessInfo.processInfo.environment["SUDO_UID"].flatMap { uid_t($0) } ?? 0
        return sudo == 0 || sudo == uid_t.max ? 65534 : sudo
    }

    /// Beside the binaries' directory, not inside it: tests bind that directory, and a
    /// bind that contains $HOME is refused.
    var home: String {
        Binaries.shared.homes + (who == .nobody ? "/nobody" : "/caller")
    }

    /// The argv prefix that runs lpa-run as this runner.
    func command(_ arguments: [String]) -> [String] {
        let lpaRun = Binaries.shared.lpaRun
        switch who {
        case .caller: return [lpaRun] + arguments
        case .nobody: return ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", lpaRun] + arguments
        }
    }

    func environment(extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = home
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// lpa-run ARGS, waiting for it to finish (at most `seconds`; then it is killed and
    /// the test fails naming the command).
    @discardableResult
    func run(_ arguments: [String], env: [String: String] = [:], cwd: String? = nil,
             seconds: Double = 120) throws -> Result {
        let child = try Spawned(command(arguments), environment: environment(extra: env),
                                cwd: cwd ?? Binaries.shared.directory)
        let (status, stdout, stderr) = child.finish(seconds: seconds)
        return Result(status: status, stdout: stdout, stderr: stderr)
    }

    /// lpa-run --profile PROFILE lpa-probe ARGS
    func probe(_ probeArguments: [String], profile: String = "strict", options: [String] = [],
               env: [String: String] = [:]) throws -> Result {
        try run(["--profile", profile] + options + [Binaries.shared.probe] + probeArguments, env: env)
    }
}

/// The lpa-run and lpa-probe under test, copied once to a world-readable temporary
/// directory: the release binaries `make install` ships when `LPA_TEST_BINARIES` names
/// their directory (`make test` does, and CI must), else the debug ones next to this
/// test bundle.
final class Binaries: Sendable {
    static let shared = Binaries()
    let directory: String
    /// The front people run, and the Swift program it execs on a miss.
    let lpaRun: String
    let lpaRunCore: String
    let probe: String
    /// The runners' homes (`Runner.home`).
    let homes: String
    /// For tests that leave things a bind of `directory` must not see (unix sockets).
    let scratch: String

    private init() {
        let built = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = built.deletingLastPathComponent()
        // swift test runs .build/<triple>/debug/<name>PackageTests.xctest
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        let environment = ProcessInfo.processInfo.environment
        if let shipped = environment["LPA_TEST_BINARIES"], !shipped.isEmpty {
            dir = URL(fileURLWithPath: shipped)
        } else {
            precondition(environment["CI"] != "true",
                         "CI must test the shipped binaries: set LPA_TEST_BINARIES (make test does)")
        }
        let fm = FileManager.default
        let target = "/tmp/lpa-tests-\(getpid())"
        try? fm.removeItem(atPath: target)
        let homes = target + "-homes"
        try? fm.removeItem(atPath: homes)
        try? fm.removeItem(atPath: target + "-scratch")
        do {
            try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
            for home in ["/nobody", "/caller"] {
                try fm.createDirectory(atPath: homes + home, withIntermediateDirectories: true)
            }
            chmod(target, 0o755)
            chmod(homes, 0o755)
            chmod(homes + "/caller", 0o700)
            chown(homes + "/nobody", 65534, 65534)
            // The front (`lpa-run`) is built by the Makefile only: a debug build has the
            // core alone, which then stands in for it (no launch from records).
            let front = dir.appendingPathComponent("lpa-run").path
            let sources = ["lpa-run": fm.fileExists(atPath: front) ? front : dir.appendingPathComponent("lpa-run-core").path,
                           "lpa-run-core": dir.appendingPathComponent("lpa-run-core").path,
                           "lpa-probe": dir.appendingPathComponent("lpa-probe").path]
            for (name, source) in sources {
                try copyExecutable(source, to: target + "/" + name)
                chmod(target + "/" + name, 0o755)
            }
        } catch {
            fatalError("cannot prepare the test binaries in \(target): \(error)")
        }
        // Removed when the test process exits: no test directory is left in /tmp.
        Binaries.cleanupPath = target
        atexit {
            guard let path = Binaries.cleanupPath else { return }
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: path + "-homes")
            try? FileManager.default.removeItem(atPath: path + "-scratch")
        }
        directory = target
        self.homes = homes
        scratch = target + "-scratch"
        try? fm.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        chmod(scratch, 0o755)
        lpaRun = target + "/lpa-run"
        lpaRunCore = target + "/lpa-run-core"
        probe = target + "/lpa-probe"
    }

    nonisolated(unsafe) static var cleanupPath: String?

    /// Writes a profile file readable by every runner and returns its path.
    func profile(named name: String, _ text: String) -> String {
        let path = directory + "/" + name + ".yaml"
        if (try? text.write(toFile: path, atomically: true, encoding: .utf8)) == nil {
            Issue.record("cannot write the profile \(path)")
        }
        chmod(path, 0o644)
        return path
    }
}

/// Copies a program that a test will execute, with cp(1) in a process of its own: a
/// copy written by this (multithreaded) test process could still be open for writing
/// in a child that another test is forking at that moment, and execve of it would fail
/// with ETXTBSY.
func copyExecutable(_ source: String, to destination: String) throws {
    let child = try Spawned(["/bin/cp", "-f", source, destination], environment: ["PATH": "/usr/bin:/bin"], cwd: "/")
    let (status, _, stderr) = child.finish(seconds: 120)
    guard status == 0 else { throw POSIXError(.EIO, userInfo: [NSLocalizedDescriptionKey: "cp \(source): \(stderr)"]) }
}
