import Foundation
import Testing

/// Pinned files, run for real: verified before anything starts, cached while unchanged.
@Suite("pins", .serialized)
struct PinTests {
    /// A directory of its own per test and runner: a model, a read-write `out/`, a cache.
    struct Workspace {
        let runner: Runner
        let directory: String
        var model: String { directory + "/model.bin" }
        var marker: String { directory + "/out/marker" }
        var cacheHome: String { directory + "/cache" }
        var cacheFile: String { cacheHome + "/lpa-run/verified.v1" }
        var env: [String: String] { ["XDG_CACHE_HOME": cacheHome] }
        var uid: uid_t { runner.who == .nobody ? 65534 : getuid() }

        init(_ name: String, _ runner: Runner) throws {
            self.runner = runner
            directory = Binaries.shared.directory + "/pins-\(name)-\(runner.who.rawValue)"
            let fm = FileManager.default
            try? fm.removeItem(atPath: directory)
            try fm.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: directory + "/cache", withIntermediateDirectories: true)
            try Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: model))
            chmod(directory, 0o755)
            chmod(model, 0o644)
            for path in [directory + "/out", cacheHome] { chown(path, uid, uid) }
            chmod(directory + "/out", 0o777)  // a root caller's workload is not root (issue 11, item 6)
        }

        func digest(_ path: String) throws -> String {
            let result = try runner.run(["hash", path])
            let line = result.stdout.split(separator: "\n").first { $0.contains("sha256: ") } ?? ""
            return String(line.split(separator: " ").last ?? "").replacingOccurrences(of: "}", with: "")
        }

        func profile(_ pins: String) -> String {
            Binaries.shared.profile(named: "pins-\(runner.who.rawValue)", """
                extends: strict
                filesystem:
                  read-write: [\(directory)/out]
                pins:
                \(pins)
                """)
        }

        func profile(modelDigest: String) -> String {
            profile("  files:\n    - {path: \(model), sha256: \(modelDigest)}")
        }

        /// lpa-run -v --profile PROFILE lpa-probe write out/marker
        func writeMarker(_ profile: String) throws -> Runner.Result {
            try runner.run(["--profile", profile, "-v", Binaries.shared.probe, "write", marker], env: env)
        }
    }

    static let wrong = String(repeating: "0", count: 64)

    @Test("a wrong pin stops the run with 125 before anything starts", arguments: Runner.all)
    func wrongPinStopsTheRun(runner: Runner) throws {
        let w = try Workspace("wrong", runner)
        let actual = try w.digest(w.model)
        let result = try w.writeMarker(w.profile(modelDigest: Self.wrong))
        #expect(result.status == 125, "\(result.stderr)")
        #expect(result.stderr.contains("SHA-256 mismatch"))
        #expect(result.stderr.contains(w.model))
        #expect(result.stderr.contains("expected: \(Self.wrong)"))
        #expect(result.stderr.contains("actual:   \(actual)"))
        #expect(!FileManager.default.fileExists(atPath: w.marker), "the workload ran")
    }

    @Test("a missing pinned file stops the run with 125", arguments: Runner.all)
    func missingPinnedFileStopsTheRun(runner: Runner) throws {
        let w = try Workspace("missing", runner)
        let profile = w.profile("  files:\n    - {path: \(w.directory)/absent.bin, sha256: \(Self.wrong)}")
        let result = try w.writeMarker(profile)
        #expect(result.status == 125)
        #expect(result.stderr.contains("absent.bin"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: w.marker))
    }

    @Test("a right pin runs, and the file is bound read-only", arguments: Runner.all)
    func rightPinRuns(runner: Runner) throws {
        let w = try Workspace("right", runner)
        let profile = w.profile(modelDigest: try w.digest(w.model))
        let result = try w.writeMarker(profile)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: w.marker))
        let read = try runner.run(["--profile", profile, Binaries.shared.probe, "read", w.model], env: w.env)
        #expect(read.fields["read"] == "ok", "\(read.stdout)\(read.stderr)")
        let write = try runner.run(["--profile", profile, Binaries.shared.probe, "write", w.model], env: w.env)
        #expect(write.fields["write"] == "EROFS", "\(write.stdout)\(write.stderr)")
    }

    @Test("a second run uses the cache; touching the file forces a re-hash", arguments: Runner.all)
    func cacheUntilTouched(runner: Runner) throws {
        let w = try Workspace("cache", runner)
        let digest = try w.digest(w.model)
        let profile = w.profile(modelDigest: digest)
        let first = try w.writeMarker(profile)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("pin ok (hashed): \(w.model)"))
        let cache = try String(contentsOfFile: w.cacheFile, encoding: .utf8)
        #expect(cache.hasPrefix("lpa-run verification cache 1\n"))
        #expect(cache.contains(" \(digest) \(w.model)\n"))

        let second = try w.writeMarker(profile)
        #expect(second.status == 0)
        #expect(second.stderr.contains("pin ok (cached): \(w.model)"), "\(second.stderr)")

        // Same contents, new mtime and ctime: the cache no longer vouches for it.
        #expect(utimes(w.model, nil) == 0)
        let third = try w.writeMarker(profile)
        #expect(third.status == 0)
        #expect(third.stderr.contains("pin ok (hashed): \(w.model)"), "\(third.stderr)")
    }

    @Test("a corrupt cache file is ignored and replaced", arguments: Runner.all)
    func corruptCacheIgnored(runner: Runner) throws {
        let w = try Workspace("corrupt", runner)
        let digest = try w.digest(w.model)
        let profile = w.profile(modelDigest: digest)
        #expect(try w.writeMarker(profile).status == 0)
        // Keep the valid entry but break the file around it: nothing in it may be trusted.
        let valid = try String(contentsOfFile: w.cacheFile, encoding: .utf8)
        try (valid + "garbage line\n").write(toFile: w.cacheFile, atomically: false, encoding: .utf8)
        chown(w.cacheFile, w.uid, w.uid)
        let result = try w.writeMarker(profile)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("ignoring verification cache"))
        #expect(result.stderr.contains("pin ok (hashed): \(w.model)"))
        let rewritten = try String(contentsOfFile: w.cacheFile, encoding: .utf8)
        #expect(!rewritten.contains("garbage"))
    }

    @Test("a cache file owned by someone else is not trusted", arguments: Runner.all)
    func foreignCacheIgnored(runner: Runner) throws {
        guard Runner.isRoot else { return }  // making a file someone else owns needs root
        let w = try Workspace("foreign", runner)
        let profile = w.profile(modelDigest: try w.digest(w.model))
        #expect(try w.writeMarker(profile).status == 0)
        let other: uid_t = w.uid == 0 ? 65534 : 0
        chown(w.cacheFile, other, other)
        let result = try w.writeMarker(profile)
        #expect(result.status == 0)
        #expect(result.stderr.contains("pin ok (hashed): \(w.model)"), "\(result.stderr)")
    }

    @Test("a cache file writable by group or others is not trusted", arguments: Runner.all)
    func writableCacheIgnored(runner: Runner) throws {
        let w = try Workspace("writable", runner)
        let profile = w.profile(modelDigest: try w.digest(w.model))
        #expect(try w.writeMarker(profile).status == 0)
        // Control: unchanged, the second run trusts the cache.
        let cached = try w.writeMarker(profile)
        #expect(cached.stderr.contains("pin ok (cached): \(w.model)"), "\(cached.stderr)")
        chmod(w.cacheFile, 0o666)
        let result = try w.writeMarker(profile)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("writable by group or others"), "\(result.stderr)")
        #expect(result.stderr.contains("pin ok (hashed): \(w.model)"), "\(result.stderr)")
    }

    @Test("a link leading out of a pinned directory stops the run", arguments: Runner.all)
    func linkOutOfPinnedDirectory(runner: Runner) throws {
        let w = try Workspace("link-out", runner)
        let lib = w.directory + "/lib"
        try FileManager.default.createDirectory(atPath: lib, withIntermediateDirectories: true)
        try "a".write(toFile: lib + "/a.so", atomically: true, encoding: .utf8)
        let manifest = try runner.run(["hash", lib])
        let profile = w.profile(manifest.stdout.split(separator: "\n").dropFirst().joined(separator: "\n"))
        // Control: the complete directory runs.
        #expect(try w.writeMarker(profile).status == 0)
        try FileManager.default.removeItem(atPath: w.marker)
        try FileManager.default.createSymbolicLink(atPath: lib + "/escape.so", withDestinationPath: "/etc/passwd")
        let result = try w.writeMarker(profile)
        #expect(result.status == 125)
        #expect(result.stderr.contains("the link 'escape.so' leads outside the pinned directory"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: w.marker))
    }

    @Test("the executable pin: right runs, wrong stops", arguments: Runner.all)
    func executablePin(runner: Runner) throws {
        let w = try Workspace("exec", runner)
        let right = try w.writeMarker(w.profile("  executable: \(try w.digest(Binaries.shared.probe))"))
        #expect(right.status == 0, "\(right.stderr)")
        #expect(right.stderr.contains("pin ok (hashed): \(Binaries.shared.probe)"))
        try FileManager.default.removeItem(atPath: w.marker)
        let wrong = try w.writeMarker(w.profile("  executable: \(Self.wrong)"))
        #expect(wrong.status == 125)
        #expect(wrong.stderr.contains("SHA-256 mismatch"))
        #expect(!FileManager.default.fileExists(atPath: w.marker))
    }

    @Test("a pinned directory refuses a file missing from its manifest", arguments: Runner.all)
    func directoryPinIsComplete(runner: Runner) throws {
        let w = try Workspace("directory", runner)
        let lib = w.directory + "/lib"
        try FileManager.default.createDirectory(atPath: lib + "/sub", withIntermediateDirectories: true)
        try "a".write(toFile: lib + "/a.so", atomically: true, encoding: .utf8)
        try "b".write(toFile: lib + "/sub/b.so", atomically: true, encoding: .utf8)
        let manifest = try runner.run(["hash", lib])
        #expect(manifest.status == 0)
        let pins = manifest.stdout.split(separator: "\n").dropFirst().joined(separator: "\n")
        #expect(pins.contains("sub/b.so: "))
        let profile = w.profile(pins)
        let good = try runner.run(["--profile", profile, Binaries.shared.probe, "read", lib + "/sub/b.so"], env: w.env)
        #expect(good.fields["read"] == "ok", "\(good.stdout)\(good.stderr)")

        try "planted".write(toFile: lib + "/c.so", atomically: true, encoding: .utf8)
        let result = try w.writeMarker(profile)
        #expect(result.status == 125)
        #expect(result.stderr.contains("'c.so' is not in the pinned manifest"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: w.marker))
    }

    @Test("lpa-run hash prints pin lines and fails on an unreadable file", arguments: [Runner.all[0]])
    func hashCommand(runner: Runner) throws {
        let w = try Workspace("hash", runner)
        let result = try runner.run(["hash", w.model])
        #expect(result.status == 0)
        let expected = SHA256Reference.hex(of: w.model)
        #expect(result.stdout == "pins:\n  files:\n    - {path: \(w.model), sha256: \(expected)}\n")
        let json = try runner.run(["hash", "--format", "json", w.model])
        #expect(json.stdout.contains("\"sha256\": \"\(expected)\""))
        let missing = try runner.run(["hash", w.directory + "/absent"])
        #expect(missing.status == 1)
    }
}

/// sha256sum, for an independent reference digest.
enum SHA256Reference {
    static func hex(of path: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let out = Pipe()
        process.standardOutput = out
        try? process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix(64))
    }
}
