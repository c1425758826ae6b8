import Foundation
import Testing

/// The walk for unix sockets under bind sources is remembered between runs
/// (LPASandbox/Network/UnixSocketSearch.swift): a remembered walk must never hide a
/// socket that appeared since, and a cache file lpa-run did not write must be ignored.
/// Real lpa-run, as root and as uid 65534.
@Suite("socket walk cache", .serialized)
struct SocketWalkCacheTests {
    /// A bind source three levels deep, old enough to be remembered (the cache skips
    /// directories changed in the last 2 s), and a cache directory of this test's own.
    struct Fixture {
        let source: String
        let deep: String
        let cache: String
        var cacheFile: String { cache + "/lpa-run/socket-walks.v1" }
        let runner: Runner

        init(_ name: String, _ runner: Runner, settle: Bool = true) throws {
            self.runner = runner
            let base = try PolicySafetyTests.workspace("walk-\(name)", runner)
            let owner = PolicySafetyTests.callerUid(runner)
            source = base + "/models"
            deep = source + "/a/b"
            cache = base + "/cache"
            try PolicySafetyTests.makeDirectory(deep, owner: owner)
            try PolicySafetyTests.makeDirectory(cache, owner: owner, mode: 0o700)
            if settle { Thread.sleep(forTimeInterval: 2.5) }
        }

        func run() throws -> Runner.Result {
            try runner.run(["--profile", "strict", "--ro", source, "/bin/true"], env: ["XDG_CACHE_HOME": cache])
        }

        var cached: String { (try? String(contentsOfFile: cacheFile, encoding: .utf8)) ?? "" }
    }

    /// A socket file nobody listens on: absent from /proc/net/unix, so only the walk can
    /// find it (like a socket bound from another network namespace).
    static func leaveSocketFile(_ path: String) throws {
        do { _ = try PathListener(path: path) }
    }

    @Test("a socket that appears under a remembered walk is found on the next run", arguments: Runner.all)
    func newSocketInvalidatesTheWalk(runner: Runner) throws {
        let f = try Fixture("new", runner)
        let first = try f.run()
        #expect(first.status == 0, "\(first.stderr)")
        #expect(f.cached.contains("root \(f.source)\n"), "the walk was not remembered: \(f.cached)")
        #expect(f.cached.contains(" \(f.deep)\n"), "\(f.cached)")

        try Self.leaveSocketFile(f.deep + "/agent.sock")
        let second = try f.run()
        #expect(second.status == 125, "a remembered walk hid a new socket: \(second.stderr)")
        #expect(second.stderr.contains("unix socket (\(f.deep)/agent.sock)"), "\(second.stderr)")

        // Gone again (its directory changed once more): the bind runs.
        unlink(f.deep + "/agent.sock")
        #expect(try f.run().status == 0)
    }

    @Test("a directory replaced by another (a mount or a rename) is walked again", arguments: Runner.all)
    func replacedDirectoryIsWalkedAgain(runner: Runner) throws {
        let f = try Fixture("replaced", runner)
        #expect(try f.run().status == 0)
        // A directory with the same name and an old timestamp on its parent cannot be had
        // without changing the parent; this swaps a subtree in one rename.
        let spare = f.source + "-spare"
        try PolicySafetyTests.makeDirectory(spare + "/b", owner: PolicySafetyTests.callerUid(runner))
        try Self.leaveSocketFile(spare + "/b/other.sock")
        #expect(rename(f.source + "/a", spare + "-old") == 0)
        #expect(rename(spare, f.source + "/a") == 0)
        let result = try f.run()
        #expect(result.status == 125, "\(result.stderr)")
        #expect(result.stderr.contains("other.sock"), "\(result.stderr)")
    }

    @Test("the cache is read: a remembered socket is reported while its directories are unchanged",
          arguments: Runner.all)
    func rememberedResultIsUsed(runner: Runner) throws {
        let f = try Fixture("used", runner)
        #expect(try f.run().status == 0)
        let text = f.cached
        #expect(text.hasSuffix("end\n"), "\(text)")
        // Adds a socket line to the walk of this source (a file written by the owner,
        // like lpa-run's own): the next run reports it without walking.
        let planted = text.replacingOccurrences(of: "end\n", with: "socket \(f.deep)/remembered.sock\nend\n")
        try PolicySafetyTests.writeFile(f.cacheFile, planted, owner: PolicySafetyTests.callerUid(runner), mode: 0o600)
        let used = try f.run()
        #expect(used.status == 125, "\(used.stderr)")
        #expect(used.stderr.contains("remembered.sock"), "\(used.stderr)")

        // Writable by others: ignored as a whole (the source is walked; nothing there).
        chmod(f.cacheFile, 0o622)
        let ignored = try f.run()
        #expect(ignored.status == 0, "a cache others may write was trusted: \(ignored.stderr)")
    }

    @Test("a cache file owned by another user, or not in the format, is ignored", arguments: Runner.all)
    func foreignOrCorruptCacheIsIgnored(runner: Runner) throws {
        let f = try Fixture("foreign", runner)
        #expect(try f.run().status == 0)
        let planted = f.cached.replacingOccurrences(of: "end\n", with: "socket \(f.deep)/planted.sock\nend\n")
        let other: uid_t = PolicySafetyTests.callerUid(runner) == 0 ? 65534 : 0
        if Runner.isRoot {
            try PolicySafetyTests.writeFile(f.cacheFile, planted, owner: other, mode: 0o644)
            let foreign = try f.run()
            #expect(foreign.status == 0, "a cache owned by uid \(other) was trusted: \(foreign.stderr)")
        }
        // Cut short (no `end`), then garbage: ignored, and the source is walked.
        let owner = PolicySafetyTests.callerUid(runner)
        unlink(f.cacheFile)
        try PolicySafetyTests.writeFile(f.cacheFile, String(planted.dropLast(4)), owner: owner, mode: 0o600)
        #expect(try f.run().status == 0)
        unlink(f.cacheFile)
        try PolicySafetyTests.writeFile(f.cacheFile, "lpa-run socket walk cache 1\nroot /\nsocket /x\nend\n",
                                        owner: owner, mode: 0o600)
        #expect(try f.run().status == 0)
    }

    @Test("--dry-run and check read the remembered walks but never write them", arguments: Runner.all)
    func planOnlyCommandsDoNotWrite(runner: Runner) throws {
        let f = try Fixture("planonly", runner)
        let env = ["XDG_CACHE_HOME": f.cache]
        let dry = try runner.run(["--profile", "strict", "--ro", f.source, "--dry-run", "/bin/true"], env: env)
        #expect(dry.status == 0, "\(dry.stderr)")
        let profile = Binaries.shared.profile(named: "walk-planonly-\(runner.who.rawValue)", """
            extends: strict
            filesystem:
              read-only: [\(f.source)]
            """)
        let check = try runner.run(["check", profile], env: env)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(!FileManager.default.fileExists(atPath: f.cacheFile), "\(f.cached)")
        // A run writes it; --dry-run then uses it (a planted socket line is reported).
        #expect(try f.run().status == 0)
        let planted = f.cached.replacingOccurrences(of: "end\n", with: "socket \(f.deep)/from-run.sock\nend\n")
        try PolicySafetyTests.writeFile(f.cacheFile, planted, owner: PolicySafetyTests.callerUid(runner), mode: 0o600)
        let reads = try runner.run(["--profile", "strict", "--ro", f.source, "--dry-run", "/bin/true"], env: env)
        #expect(reads.status == 125 && reads.stderr.contains("from-run.sock"), "\(reads.stderr)")
    }

    @Test("a socket bind-mounted over a file under the source is found (its directory lists a file)",
          arguments: Runner.all)
    func socketMountedOverAFileIsFound(runner: Runner) throws {
        // Mounting needs root on the host; the unprivileged runner still runs lpa-run as 65534.
        guard Runner.isRoot else { return }
        let f = try Fixture("mounted", runner, settle: false)
        let file = f.deep + "/model.bin"
        FileManager.default.createFile(atPath: file, contents: Data("weights".utf8))
        let socketPath = f.source + "-socket"
        try Self.leaveSocketFile(socketPath)
        // In a mount namespace of its own (util-linux unshare, for the test only): the
        // host's mount table stays as it is for the suites running beside this one.
        let script = #"src=$0; dst=$1; shift; mount --bind "$src" "$dst" && exec "$@""#
        let argv = ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script, socketPath, file]
            + runner.command(["--profile", "strict", "--ro", f.source, "/bin/true"])
        let child = try Spawned(argv, environment: runner.environment(extra: ["XDG_CACHE_HOME": f.cache]),
                                cwd: Binaries.shared.directory)
        let (status, _, stderr) = child.finish(seconds: 60)
        #expect(status == 125, "a socket mounted over a file was bound: \(stderr)")
        #expect(stderr.contains("model.bin"), "\(stderr)")
    }

    @Test("the walks are kept only in a cache directory the caller owns, never through a link",
          arguments: Runner.all)
    func cacheOnlyInTheCallersOwnDirectory(runner: Runner) throws {
        let f = try Fixture("owner", runner)
        let other: uid_t = PolicySafetyTests.callerUid(runner) == 0 ? 65534 : 0
        // $XDG_CACHE_HOME owned by someone else (root running with a user's HOME, say):
        // nothing is created in it.
        chown(f.cache, other, other)
        chmod(f.cache, 0o755)
        #expect(try f.run().status == 0)
        #expect(!FileManager.default.fileExists(atPath: f.cache + "/lpa-run"), "created in another user's directory")
        // The caller's own, but lpa-run's directory is a link elsewhere: not followed.
        chown(f.cache, PolicySafetyTests.callerUid(runner), PolicySafetyTests.callerUid(runner))
        let elsewhere = f.cache + "-elsewhere"
        try PolicySafetyTests.makeDirectory(elsewhere, owner: PolicySafetyTests.callerUid(runner), mode: 0o700)
        #expect(symlink(elsewhere, f.cache + "/lpa-run") == 0)
        // The run itself then stops at the mask over lpa-run's cache (a link is not hidden
        // through); the walk was done, and kept, before that.
        let linked = try f.run()
        #expect(linked.status == 125 && linked.stderr.contains("symbolic link"), "\(linked.stderr)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: elsewhere)) == [], "written through a link")
        // Root with a cache path through another user's link (`~/.cache -> /etc`): no
        // directory is made where the link points.
        if Runner.isRoot && runner.who == .caller {
            let target = f.cache + "-target"
            try PolicySafetyTests.makeDirectory(target, owner: 0, mode: 0o755)
            let link = f.cache + "-users-link"
            #expect(symlink(target, link) == 0)
            #expect(lchown(link, 65534, 65534) == 0)
            let result = try runner.run(["--profile", "strict", "--ro", f.source, "/bin/true"], env: ["XDG_CACHE_HOME": link])
            #expect(result.status == 0, "\(result.stderr)")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: target)) == [],
                    "root followed another user's link into \(target)")
        }
        // A real directory of the caller's: kept.
        unlink(f.cache + "/lpa-run")
        #expect(try f.run().status == 0)
        #expect(f.cached.contains("root \(f.source)\n"), "\(f.cached)")
    }

    @Test("a socket under a directory whose name is not UTF-8 stops the bind", arguments: Runner.all)
    func socketUnderANonUTF8NameIsFound(runner: Runner) throws {
        let f = try Fixture("bytes", runner, settle: false)
        let odd = Array((f.deep + "/").utf8) + [0xFF]
        #expect(odd.withUnsafeBufferPointer { b in (Array(b) + [0]).withUnsafeBufferPointer {
            $0.withMemoryRebound(to: CChar.self) { mkdir($0.baseAddress!, 0o755) } } } == 0)
        let listener = try PathListener(bytes: odd + Array("/agent.sock".utf8))
        defer { withExtendedLifetime(listener) {} }
        let result = try f.run()
        #expect(result.status == 125, "a live socket under a non-UTF-8 name was bound: \(result.stderr)")
        #expect(result.stderr.contains("agent.sock"), "\(result.stderr)")
        // A source that is a link to a directory whose real path is not UTF-8.
        let oddRoot = Array((f.source + "-").utf8) + [0xFE]
        #expect(oddRoot.withUnsafeBufferPointer { b in (Array(b) + [0]).withUnsafeBufferPointer {
            $0.withMemoryRebound(to: CChar.self) { mkdir($0.baseAddress!, 0o755) } } } == 0)
        let behindLink = try PathListener(bytes: oddRoot + Array("/behind.sock".utf8))
        defer { withExtendedLifetime(behindLink) {} }
        let link = f.source + "-link"
        #expect((oddRoot + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { symlink($0.baseAddress!, link) } } == 0)
        let linked = try runner.run(["--profile", "strict", "--ro", link, "--dry-run", "/bin/true"], env: ["XDG_CACHE_HOME": f.cache])
        #expect(linked.status == 125 && linked.stderr.contains("behind.sock"), "\(linked.stderr)")
    }

    @Test("a socket named with a line break is reported on one line", arguments: Runner.all)
    func socketNamesCannotFakeLines(runner: Runner) throws {
        let f = try Fixture("newline", runner, settle: false)
        let listener = try PathListener(path: f.deep + "/x\nlpa-run: note: all clear.sock")
        defer { withExtendedLifetime(listener) {} }
        let result = try f.run()
        #expect(result.status == 125, "\(result.stderr)")
        #expect(result.stderr.contains("x?lpa-run: note: all clear.sock"), "\(result.stderr)")
        #expect(!result.stderr.split(separator: "\n").contains { $0.hasPrefix("lpa-run: note: all clear") }, "\(result.stderr)")
    }

    @Test("a walk of directories changed in the last seconds is not remembered", arguments: Runner.all)
    func freshDirectoriesAreNotRemembered(runner: Runner) throws {
        let f = try Fixture("fresh", runner, settle: false)
        #expect(try f.run().status == 0)
        #expect(!f.cached.contains("root \(f.source)\n"), "\(f.cached)")
        // The socket made right after is still found (nothing was remembered to hide it).
        try Self.leaveSocketFile(f.deep + "/fresh.sock")
        let result = try f.run()
        #expect(result.status == 125 && result.stderr.contains("fresh.sock"), "\(result.stderr)")
    }
}
