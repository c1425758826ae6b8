import Foundation
import Testing

/// The shipped lpa-run is a static PIE: no dynamic loader or shared library to map and
/// relocate at each start (start-up is benchmarked), and still loaded at a random
/// address (ASLR). Debug builds are ordinary PIEs, so these tests need the release
/// binaries, which `make test` (and so CI) always names in LPA_TEST_BINARIES; under
/// CI=true the harness refuses to run without them.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["LPA_TEST_BINARIES"].map { !$0.isEmpty } ?? false,
                "the shipped binaries (LPA_TEST_BINARIES, set by make test)"))
struct ShippedBinaryTests {
    /// What the ELF headers say about how the file is loaded.
    struct ELFLoading {
        var type: UInt16
        var hasInterpreter: Bool
        var hasDynamicSection: Bool
        var needed: Int
    }

    static func loading(of path: String) throws -> ELFLoading {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        func u16(_ at: Int) -> UInt16 { data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt16.self) } }
        func u32(_ at: Int) -> UInt32 { data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) } }
        func u64(_ at: Int) -> UInt64 { data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) } }
        #expect(data.prefix(5) == Data([0x7f, 0x45, 0x4c, 0x46, 2]), "an ELF64 file")
        let phoff = Int(u64(0x20)), phentsize = Int(u16(0x36)), phnum = Int(u16(0x38))
        var result = ELFLoading(type: u16(0x10), hasInterpreter: false, hasDynamicSection: false, needed: 0)
        for index in 0..<phnum {
            let header = phoff + index * phentsize
            switch u32(header) {
            case 3: result.hasInterpreter = true  // PT_INTERP
            case 2:  // PT_DYNAMIC: count DT_NEEDED entries
                result.hasDynamicSection = true
                let offset = Int(u64(header + 8)), size = Int(u64(header + 32))
                for entry in stride(from: offset, to: offset + size, by: 16) {
                    let tag = u64(entry)
                    if tag == 0 { break }
                    if tag == 1 { result.needed += 1 }
                }
            default: break
            }
        }
        return result
    }

    /// Both executables: the front (C) and the core (Swift).
    @Test(arguments: ["lpa-run", "lpa-run-core"])
    func shippedLpaRunIsAStaticPIE(name: String) throws {
        let elf = try Self.loading(of: Binaries.shared.directory + "/" + name)
        #expect(elf.type == 3, "ELF type DYN (position independent, so the kernel randomises its base)")
        #expect(!elf.hasInterpreter, "no PT_INTERP: the dynamic loader never runs")
        #expect(elf.needed == 0, "no shared library needed")
        #expect(elf.hasDynamicSection, "a static PIE relocates itself from its own dynamic section")
    }

    /// The front executes the lpa-run-core it finds, so it takes one only from where its
    /// owner (or root) put it: not from a directory others may write to, nor one another
    /// user planted beside a copy of the front in a shared directory (red team).
    @Test func frontRunsOnlyATrustedCore() throws {
        let base = Binaries.shared.scratch + "/front-\(getpid())"
        let shared = base + "/shared"
        let fm = FileManager.default
        try fm.createDirectory(atPath: shared + "/bin", withIntermediateDirectories: true)
        chmod(base, 0o755)
        chmod(shared, 0o1777)
        defer { try? fm.removeItem(atPath: base) }
        try copyExecutable(Binaries.shared.lpaRun, to: shared + "/bin/lpa-run")
        // The planted core is a real one, so that running it shows (`--version` answers).
        func plant(owner: uid_t, directoryMode: mode_t) throws {
            try? fm.removeItem(atPath: shared + "/libexec")
            try fm.createDirectory(atPath: shared + "/libexec/lpa-run", withIntermediateDirectories: true)
            let core = shared + "/libexec/lpa-run/lpa-run-core"
            try copyExecutable(Binaries.shared.lpaRunCore, to: core)
            chmod(core, 0o755)
            chmod(shared + "/libexec/lpa-run", directoryMode)
            for path in [shared + "/libexec", shared + "/libexec/lpa-run", core] { chown(path, owner, owner) }
        }
        func version() throws -> (status: Int32, stdout: String, stderr: String) {
            let child = try Spawned([shared + "/bin/lpa-run", "--version"], environment: ["PATH": "/usr/bin:/bin"], cwd: "/")
            return child.finish(seconds: 30)
        }
        var cases: [(String, uid_t, mode_t)] = [("a directory anyone may write to", getuid(), 0o777)]
        if getuid() == 0 { cases.append(("another user's, in a shared directory", 65534, 0o755)) }
        for (what, owner, mode) in cases {
            try plant(owner: owner, directoryMode: mode)
            let (status, stdout, stderr) = try version()
            #expect(status == 125, "\(what): \(stderr)")
            #expect(stderr.contains("cannot run lpa-run-core"), "\(what): \(stderr)")
            #expect(!stdout.contains("lpa-run 0.1"), "\(what): the planted core ran")
        }
        // A directory above the front that anyone may write to (not sticky): whoever can
        // rename `bin` there could swap the core after the check (red team 3).
        try plant(owner: getuid(), directoryMode: 0o755)
        chmod(shared, 0o777)
        let above = try version()
        chmod(shared, 0o1777)
        #expect(above.status == 125, "a writable directory above the front: \(above.stderr)")
        #expect(!above.stdout.contains("lpa-run 0.1"), "a writable directory above the front: the core ran")
        // The same layout, the caller's own and not writable by others: it runs.
        let own = try version()
        #expect(own.status == 0 && own.stdout.contains("lpa-run 0.1"), "a core its owner installed did not run: \(own.stderr)")
    }

    /// The reporter's word is not an option: the core answers it only on a socket from
    /// its parent (a front), so no made-up report can stand in for a run (red team).
    @Test func reporterWordIsNotAnOption() throws {
        let fake = Binaries.shared.scratch + "/fake-report-\(getpid())"
        try Data("E".utf8).write(to: URL(fileURLWithPath: fake))
        defer { unlink(fake) }
        let child = try Spawned(["/bin/sh", "-c", "exec \"$0\" --lpa-run-internal-report < \"$1\"", Binaries.shared.lpaRun, fake],
                                environment: ["PATH": "/usr/bin:/bin"], cwd: "/")
        let (status, _, stderr) = child.finish(seconds: 30)
        #expect(status == 125, "\(stderr)")
        #expect(stderr.contains("it is not an option"), "\(stderr)")
        // Nor over a socket pair from a wrapper (Node's stdio 'pipe' is one), to the front
        // or to the core itself (red team).
        let wrapper = """
            import socket, subprocess, sys
            a, b = socket.socketpair()
            a.sendall(b"E")
            a.close()
            r = subprocess.run([sys.argv[1], "--lpa-run-internal-report"], stdin=b, capture_output=True)
            sys.stderr.write(r.stderr.decode())
            sys.exit(r.returncode)
            """
        for binary in [Binaries.shared.lpaRun, Binaries.shared.lpaRunCore] {
            let child = try Spawned(["/usr/bin/python3", "-c", wrapper, binary], environment: ["PATH": "/usr/bin:/bin"], cwd: "/")
            let (status, _, stderr) = child.finish(seconds: 30)
            #expect(status == 125, "\(binary): \(stderr)")
            #expect(stderr.contains("it is not an option"), "\(binary): \(stderr)")
        }
    }

    /// Two runs of each shipped executable are mapped at different addresses: ASLR is
    /// kept. The core runs every time with the launch records off; the front launches
    /// a command line from its record once one was written (the first runs are the
    /// core's, and a record is not written while what it consulted is under two seconds
    /// old), so its runs go on until it has been seen twice.
    @Test func shippedLpaRunIsLoadedAtARandomAddress() throws {
        var bases: [String: [String]] = [:]
        // A command line of this test's own: no earlier run left a record for it.
        let key = ["LPA_TEST_ASLR": String(UInt64.random(in: 0...UInt64.max))]
        var runs = 0
        while runs < 16 && ((bases["lpa-run"]?.count ?? 0) < 2 || (bases["lpa-run-core"]?.count ?? 0) < 2) {
            let compiled = (bases["lpa-run-core"]?.count ?? 0) < 2
            if !compiled && runs > 2 { Thread.sleep(forTimeInterval: 1) }
            runs += 1
            let extra = compiled ? ["LPA_START_CACHE": "off"] : key
            let child = try Spawned([Binaries.shared.lpaRun, "--profile", "strict", "/bin/sleep", "30"],
                                    environment: Runner(who: .caller).environment(extra: extra), cwd: "/")
            defer { kill(child.pid, SIGTERM); _ = child.finish(seconds: 30) }
            // The first mapping of the executable file, once the process has exec'd it
            // (and once the front has exec'd the core on a miss).
            var base: (name: String, address: String)?
            for _ in 0..<200 where base == nil {
                let maps = (try? String(contentsOfFile: "/proc/\(child.pid)/maps", encoding: .utf8)) ?? ""
                let lines = maps.split(separator: "\n")
                // A sandbox already set up: its init is a child (the workload runs).
                let started = (try? String(contentsOfFile: "/proc/\(child.pid)/task/\(child.pid)/children",
                                           encoding: .utf8)).map { !$0.isEmpty } ?? false
                for name in ["lpa-run", "lpa-run-core"] where started && base == nil {
                    base = lines.first { $0.hasSuffix("/" + name) }.map { (name, String($0.prefix { $0 != "-" })) }
                }
                if base == nil { usleep(10_000) }
            }
            let found = try #require(base, "lpa-run's mapping in /proc/\(child.pid)/maps")
            bases[found.name, default: []].append(found.address)
        }
        #expect((bases["lpa-run"]?.count ?? 0) >= 2 && (bases["lpa-run-core"]?.count ?? 0) >= 2,
                "both executables ran twice: \(bases)")
        for (name, addresses) in bases where addresses.count > 1 {
            #expect(Set(addresses).count == addresses.count, "\(name) at the same base address twice: \(bases)")
        }
    }
}
