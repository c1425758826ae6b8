import Foundation
import Testing

/// Issue 11, items 1, 4, 6, 10, 11 and the seccomp part of 14: what a plan exposes of
/// the host, run for real as root and as uid 65534.
@Suite("policy safety (issue 11)", .serialized)
struct PolicySafetyTests {
    /// A fresh directory of this test and runner, which lpa-run's caller owns and every
    /// user can read.
    static func workspace(_ name: String, _ runner: Runner) throws -> String {
        // Not under Binaries.shared.directory: other suites bind that, and a bind holding
        // this suite's unix sockets would be refused.
        let directory = Binaries.shared.scratch + "/safety-\(name)-\(runner.who.rawValue)"
        try? FileManager.default.removeItem(atPath: directory)
        try makeDirectory(directory, owner: callerUid(runner))
        return directory
    }

    static func callerUid(_ runner: Runner) -> uid_t { runner.who == .nobody ? 65534 : getuid() }

    /// The host uid lpa-run gives the sandbox user: the caller's, and for root the sudo
    /// user's or nobody's.
    static func workloadUid(_ runner: Runner) -> uid_t {
        let caller = callerUid(runner)
        guard caller == 0 else { return caller }
        let sudo = ProcessInfo.processInfo.environment["SUDO_UID"].flatMap { uid_t($0) } ?? 0
        return sudo == 0 || sudo == uid_t.max ? 65534 : sudo
    }

    static func workloadGid(_ runner: Runner) -> gid_t {
        guard callerUid(runner) == 0 else { return runner.who == .nobody ? 65534 : getgid() }
        guard workloadUid(runner) != 65534 else { return 65534 }
        let sudo = ProcessInfo.processInfo.environment["SUDO_GID"].flatMap { gid_t($0) } ?? 0
        return sudo == 0 || sudo == gid_t.max ? 65534 : sudo
    }

    static func makeDirectory(_ path: String, owner: uid_t, mode: mode_t = 0o755) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chown(path, owner, owner)
        chmod(path, mode)
    }

    /// Written through a close-on-exec descriptor: Foundation's String.write leaves its
    /// descriptor inheritable, and a child another test forks meanwhile keeps it open
    /// for writing, so a script written here fails to execute with ETXTBSY.
    static func writeFile(_ path: String, _ text: String, owner: uid_t, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw POSIXError(.EIO) }
        chown(path, owner, owner)
        chmod(path, mode)
    }

    /// A copy of lpa-probe at `path`, as a tool a user would run from there.
    static func copyProbe(to path: String) throws {
        try? FileManager.default.removeItem(atPath: path)
        try copyExecutable(Binaries.shared.probe, to: path)
        chmod(path, 0o755)
    }

    static func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    // MARK: 1. No implicit directory binds; no bind over the home, /tmp, /run; no sockets

    @Test("lpa-run ~/tool binds the tool, not the home: a 0600 key in ~/.ssh stays out of reach", arguments: Runner.all)
    func executableInTheHomeDoesNotExposeTheHome(runner: Runner) throws {
        let home = try Self.workspace("home-tool", runner) + "/home"
        let owner = Self.callerUid(runner)
        try Self.makeDirectory(home + "/.ssh", owner: owner, mode: 0o700)
        chown(home, owner, owner)
        try Self.writeFile(home + "/.ssh/id_ed25519", "PRIVATE KEY\n", owner: owner, mode: 0o600)
        try Self.copyProbe(to: home + "/tool")

        let key = try runner.run(["--profile", "strict", home + "/tool", "read", home + "/.ssh/id_ed25519"],
                                 env: ["HOME": home])
        #expect(key.status == 0, "\(key.stderr)")
        #expect(key.fields["read"] == "ENOENT", "the host home is visible: \(key.stdout)")
        let listing = try runner.run(["--profile", "strict", home + "/tool", "ls", home], env: ["HOME": home])
        #expect(Self.lines(listing.stdout) == ["tool"], "\(listing.stdout)\(listing.stderr)")
    }

    @Test("lpa-run /tmp/x/tool binds the tool, not its directory: other /tmp files stay out of reach",
          arguments: Runner.all)
    func executableInTmpDoesNotExposeTmp(runner: Runner) throws {
        let directory = "/tmp/lpa-safety-tool-\(getpid())-\(runner.who.rawValue)"
        try? FileManager.default.removeItem(atPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.makeDirectory(directory, owner: Self.callerUid(runner))
        try Self.copyProbe(to: directory + "/tool")
        try Self.writeFile(directory + "/notes.txt", "private\n", owner: Self.callerUid(runner), mode: 0o644)

        let notes = try runner.run([directory + "/tool", "read", directory + "/notes.txt"])
        #expect(notes.status == 0, "\(notes.stderr)")
        #expect(notes.fields["read"] == "ENOENT", "a file next to the tool is visible: \(notes.stdout)")
        let listing = try runner.run([directory + "/tool", "ls", directory])
        #expect(Self.lines(listing.stdout) == ["tool"], "\(listing.stdout)\(listing.stderr)")
        let elsewhere = try runner.run([directory + "/tool", "read", Binaries.shared.lpaRun])
        #expect(elsewhere.fields["read"] == "ENOENT", "the host's /tmp is visible: \(elsewhere.stdout)")
    }

    @Test("a bind holding a listening unix socket is refused at plan time, unless allow-sockets names it",
          arguments: Runner.all)
    func bindHoldingASocketIsRefused(runner: Runner) throws {
        let shared = try Self.workspace("socket", runner) + "/shared"
        try Self.makeDirectory(shared + "/agent", owner: Self.callerUid(runner))
        let listener = try PathListener(path: shared + "/agent/agent.sock")
        defer { withExtendedLifetime(listener) {} }
        let refused = Binaries.shared.profile(named: "socket-\(runner.who.rawValue)", """
            description: binds a directory that holds an agent socket
            extends: strict
            filesystem:
              read-only: [\(shared)]
            """)
        let result = try runner.run(["--profile", refused, "/bin/echo", "RAN"])
        #expect(result.status == 125, "\(result.stdout)\(result.stderr)")
        #expect(!result.stdout.contains("RAN"))
        #expect(result.stderr.contains("socket-\(runner.who.rawValue).yaml:4:"), "\(result.stderr)")
        #expect(result.stderr.contains("unix socket (\(shared)/agent/agent.sock)"), "\(result.stderr)")

        let allowed = Binaries.shared.profile(named: "socket-allowed-\(runner.who.rawValue)", """
            description: the same bind, with the socket allowed on purpose
            extends: strict
            filesystem:
              read-only: [\(shared)]
              allow-sockets: [\(shared)/agent/agent.sock]
            """)
        let control = try runner.run(["--profile", allowed, "/bin/echo", "RAN"])
        #expect(control.status == 0, "\(control.stderr)")
        #expect(control.stdout == "RAN\n")
    }

    // MARK: 4. lpa-run's own trust anchors

    @Test("lpa-run's config and cache are masked under a bind of ~/.config and ~/.cache; a read-write one is refused",
          arguments: Runner.all)
    func trustAnchorsAreMasked(runner: Runner) throws {
        let home = try Self.workspace("anchors", runner) + "/home"
        let owner = Self.callerUid(runner)
        for directory in [home, home + "/.config", home + "/.config/lpa-run/profiles", home + "/.cache/lpa-run"] {
            try Self.makeDirectory(directory, owner: owner, mode: 0o777)
        }
        chmod(home + "/.config/lpa-run", 0o777)
        chmod(home + "/.cache", 0o777)
        try Self.writeFile(home + "/.config/lpa-run/profiles/mine.yaml", "extends: strict\n", owner: owner, mode: 0o666)
        try Self.writeFile(home + "/.config/other.conf", "visible\n", owner: owner, mode: 0o666)
        try Self.writeFile(home + "/.cache/lpa-run/verified.v1", "lpa-run verification cache 1\n", owner: owner,
                           mode: 0o666)
        let env = ["HOME": home, "XDG_CONFIG_HOME": home + "/.config", "XDG_CACHE_HOME": home + "/.cache"]
        func profile(_ key: String) -> String {
            Binaries.shared.profile(named: "anchors-\(key)-\(runner.who.rawValue)", """
                extends: strict
                filesystem:
                  \(key): [\(home)/.config, \(home)/.cache]
                """)
        }
        func probe(_ profile: String, _ arguments: [String]) throws -> Runner.Result {
            try runner.run(["--profile", profile, Binaries.shared.probe] + arguments, env: env)
        }
        let readOnly = profile("read-only")
        let control = try probe(readOnly, ["read", home + "/.config/other.conf"])
        #expect(control.fields["read"] == "ok", "the bind itself must work: \(control.stdout)\(control.stderr)")
        let listing = try probe(readOnly, ["ls", home + "/.config/lpa-run"])
        #expect(!listing.stdout.contains("profiles"), "lpa-run's profiles are visible: \(listing.stdout)")
        let cache = try probe(readOnly, ["read", home + "/.cache/lpa-run/verified.v1"])
        #expect(cache.fields["read"] != "ok", "the verification cache is readable: \(cache.stdout)")
        // Read-write, a mask could not hold (the sandbox would rename the parent): refused.
        let planted = try probe(profile("read-write"), ["write", home + "/.config/lpa-run/profiles/strict.yaml"])
        #expect(planted.status == 125, "\(planted.stdout)\(planted.stderr)")
        #expect(planted.stderr.contains("lpa-run's own configuration or cache"), "\(planted.stderr)")
        #expect(!FileManager.default.fileExists(atPath: home + "/.config/lpa-run/profiles/strict.yaml"))
    }

    @Test("a strict.yaml planted in the user's profiles cannot weaken the presets, and is warned about",
          arguments: Runner.all)
    func plantedStrictDoesNotWeakenPresets(runner: Runner) throws {
        let root = try Self.workspace("planted", runner)
        let owner = Self.callerUid(runner)
        try Self.makeDirectory(root + "/config/lpa-run/profiles", owner: owner)
        try Self.makeDirectory(root + "/project", owner: owner)
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("profiles/strict.yaml")
        let strict = try String(contentsOf: source, encoding: .utf8)
        try #require(strict.contains("hostname: lpa-sandbox\n"))
        try Self.writeFile(root + "/config/lpa-run/profiles/strict.yaml",
                           strict.replacingOccurrences(of: "hostname: lpa-sandbox\n", with: "hostname: planted\n"),
                           owner: owner, mode: 0o644)
        let env = ["XDG_CONFIG_HOME": root + "/config"]

        let agent = try runner.run(["--profile", "agent", Binaries.shared.probe, "status"], env: env,
                                   cwd: root + "/project")
        #expect(agent.status == 0, "\(agent.stderr)")
        #expect(agent.fields["hostname"] == "lpa-sandbox", "the planted strict.yaml shaped agent: \(agent.stdout)")
        let strictRun = try runner.run(["--profile", "strict", Binaries.shared.probe, "status"], env: env)
        #expect(strictRun.stderr.contains("shadows the built-in profile 'strict'"), "\(strictRun.stderr)")
    }

    @Test("cwd: read-write in the home directory is refused", arguments: Runner.all)
    func readWriteHomeIsRefused(runner: Runner) throws {
        let home = try Self.workspace("cwd-home", runner)
        let result = try runner.run(["--profile", "agent", "/bin/echo", "RAN"], env: ["HOME": home], cwd: home)
        #expect(result.status == 125, "\(result.stdout)\(result.stderr)")
        #expect(!result.stdout.contains("RAN"))
        #expect(result.stderr.contains("exposes the home directory (\(home))"), "\(result.stderr)")
    }

    // MARK: 6. A root caller's workload is not host root

    @Test("the sandbox's processes are not host uid 0, and hold no host groups of root", arguments: Runner.all)
    func workloadIsNotHostRoot(runner: Runner) throws {
        let running = try RunningSandbox(runner: runner, probe: ["wait-signal"])
        try running.waitForLine("ready")
        let processes = ProcessTree.descendants(of: running.pid)
        #expect(processes.count >= 2, "init and workload expected, found \(processes)")
        for pid in processes {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            func field(_ name: String) -> [String] {
                let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
                return line.dropFirst(name.count + 1).split(whereSeparator: { $0 == "\t" || $0 == " " }).map(String.init)
            }
            let uid = String(Self.workloadUid(runner)), gid = String(Self.workloadGid(runner))
            #expect(Self.workloadUid(runner) != 0)
            #expect(field("Uid") == [uid, uid, uid, uid], "pid \(pid): \(field("Uid"))")
            #expect(field("Gid") == [gid, gid, gid, gid], "pid \(pid): \(field("Gid"))")
            #expect(!field("Groups").contains("0"), "pid \(pid) keeps group 0: \(field("Groups"))")
        }
        kill(running.pid, SIGTERM)
        let (status, output) = running.finish()
        #expect(status == 0, "\(output)")
    }

    @Test("a root-only file bound read-only cannot be read, by owner or by group", arguments: Runner.all)
    func rootOnlyFilesStayUnreadable(runner: Runner) throws {
        guard Runner.isRoot else { return }  // root-owned files need a root test process
        let directory = try Self.workspace("root-only", runner) + "/etc-like"
        try Self.makeDirectory(directory, owner: 0)
        try Self.writeFile(directory + "/wireguard.key", "secret\n", owner: 0, mode: 0o600)
        try Self.writeFile(directory + "/group.keytab", "secret\n", owner: 0, mode: 0o040)
        try Self.writeFile(directory + "/public.conf", "hello\n", owner: 0, mode: 0o644)
        let profile = Binaries.shared.profile(named: "root-only-\(runner.who.rawValue)", """
            description: binds a directory with root-only files
            extends: strict
            filesystem:
              read-only: [\(directory)]
            """)
        for (file, expected) in [("public.conf", "ok"), ("wireguard.key", "EACCES"), ("group.keytab", "EACCES")] {
            let result = try runner.probe(["read", directory + "/" + file], profile: profile)
            #expect(result.fields["read"] == expected, "\(file): \(result.stdout)\(result.stderr)")
        }
    }

    @Test("/proc/keys, kpageflags, kpagecount and timer_list are masked", arguments: Runner.all)
    func procInternalsAreMasked(runner: Runner) throws {
        for path in ["/proc/keys", "/proc/kpageflags", "/proc/kpagecount", "/proc/timer_list"] {
            let result = try runner.probe(["read", path])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.fields["read"] != nil && result.fields["read"] != "ok", "\(path): \(result.stdout)")
        }
        #expect(try runner.probe(["read", "/proc/self/status"]).fields["read"] == "ok")
    }

    // MARK: 10. A filter that would deadlock the launch

    @Test("a profile denying sendmsg is a compile error, not a hang", arguments: Runner.all)
    func denyingSendmsgIsRefused(runner: Runner) throws {
        let profile = Binaries.shared.profile(named: "deny-sendmsg-\(runner.who.rawValue)", """
            description: denies what lpa-run needs to hand over the audit listener
            extends: strict
            seccomp:
              deny: [sendmsg]
            """)
        let result = try runner.run(["--profile", profile, "/bin/echo", "RAN"], seconds: 30)
        #expect(result.status == 125, "\(result.stdout)\(result.stderr)")
        #expect(!result.stdout.contains("RAN"))
        #expect(result.stderr.contains("deny-sendmsg-\(runner.who.rawValue).yaml:4:"), "\(result.stderr)")
        #expect(result.stderr.contains("'sendmsg' is denied"), "\(result.stderr)")
    }

    // MARK: 11. /dev/shm

    @Test("/dev/shm is a bounded tmpfs (tmpfs-size, or shm-size), noswap where the kernel allows it",
          arguments: Runner.all)
    func devShmIsBounded(runner: Runner) throws {
        func shmLine(_ profile: String) throws -> String {
            let result = try runner.run(["--profile", profile, "/bin/cat", "/proc/self/mountinfo"])
            #expect(result.status == 0, "\(result.stderr)")
            return Self.lines(result.stdout).first { $0.split(separator: " ").dropFirst(4).first == "/dev/shm" } ?? ""
        }
        let strict = try shmLine("strict")
        #expect(strict.contains("size=1048576k"), "\(strict)")
        if runner.who == .caller && Runner.isRoot {
            #expect(strict.contains("noswap"), "\(strict)")
        }
        let small = Binaries.shared.profile(named: "shm-small-\(runner.who.rawValue)", """
            description: a smaller tmpfs size
            extends: strict
            filesystem:
              tmpfs-size: 64M
            """)
        #expect(try shmLine(small).contains("size=65536k"))
    }

    // MARK: 14. personality, fanotify_init, socketpair

    @Test("personality allows only Docker's personas: READ_IMPLIES_EXEC and ADDR_NO_RANDOMIZE fail",
          arguments: Runner.all)
    func personalityIsRestricted(runner: Runner) throws {
        let result = try runner.probe(["personality", "0", "8", "0x20000", "0x20008", "0xffffffff",
                                       "0x400000", "0x40000", "0x1", "0x400008"])
        #expect(result.status == 0, "\(result.stderr)")
        let f = result.fields
        for allowed in ["0", "0x8", "0x20000", "0x20008", "0xffffffff"] {
            #expect(f["personality-" + allowed] == "ok", "\(allowed): \(f["personality-" + allowed] ?? "missing")")
        }
        for denied in ["0x400000", "0x40000", "0x1", "0x400008"] {
            #expect(f["personality-" + denied] == "EPERM", "\(denied): \(f["personality-" + denied] ?? "missing")")
        }
    }

    @Test("socketpair is held to socket-families like socket", arguments: Runner.all)
    func socketpairFollowsSocketFamilies(runner: Runner) throws {
        let result = try runner.probe(["socketpair", "1", "16", "17", "38"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.fields["socketpair-1"] == "ok")
        for family in ["16", "17", "38"] {
            #expect(result.fields["socketpair-" + family] == "EAFNOSUPPORT", "family \(family): \(result.stdout)")
        }
    }

    @Test("fanotify_init is denied by the filter itself", arguments: Runner.all)
    func fanotifyInitIsDenied(runner: Runner) throws {
        #expect(try runner.probe(["fanotify-init"]).fields["fanotify-init"] == "EPERM")
        let marked = try runner.probe(["fanotify-init"], profile: EscapeClassTests.markedProfile)
        #expect(marked.fields["fanotify-init"] == "ENOTRECOVERABLE", "\(marked.stdout)\(marked.stderr)")
    }
}

/// A listening unix socket at a path (an ssh-agent or docker socket, say).
final class PathListener {
    let fd: Int32

    convenience init(path: String) throws {
        try self.init(bytes: Array(path.utf8))
    }

    /// A path as bytes: it need not be UTF-8.
    init(bytes: [UInt8]) throws {
        (bytes + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { _ = unlink($0.baseAddress!) } }
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw POSIXError(.ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        (bytes + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { _ = chmod($0.baseAddress!, 0o777) } }
    }

    deinit { close(fd) }
}
