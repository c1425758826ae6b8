#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy

/// Descriptors of files whose SHA-256 matched their pin. The init inherits them at clone;
/// after binding each pinned path it checks that the mounted inode is the descriptor's,
/// so what runs is what was hashed (window.c, LPA_FS_BIND with fd).
public struct VerifiedFiles {
    /// Plan path (a `verified` bind source) → the descriptor that was hashed.
    var descriptors: [String: Int32] = [:]
    /// Which of them are files of a pinned directory.
    var directoryFiles: Set<String> = []
    /// The path the kernel resolved the pinned executable's descriptor to.
    var executableTarget: String?
    private var opened: [Int32] = []

    /// How each pinned file was checked, in order: for -v and for tests.
    public private(set) var outcomes: [(path: String, cached: Bool)] = []

    public init() {}

    mutating func adopt(_ fd: Int32) { opened.append(fd) }
    mutating func note(_ path: String, cached: Bool) { outcomes.append((path, cached)) }

    public func close() { opened.forEach { _ = Glibc.close($0) } }
}

/// Checks every pin of a plan before anything is created: each file is opened once,
/// fstat'ed and hashed through that descriptor (or found unchanged in the cache), and
/// any mismatch, missing file or unlisted file in a pinned directory stops the run.
struct PinVerifier {
    let plan: IsolationPlan
    let quiet: Bool
    let verbose: Bool

    func verify() throws(LaunchError) -> VerifiedFiles {
        var verified = VerifiedFiles()
        let files = pinnedFiles()
        guard !files.isEmpty || plan.pins.executable != nil else { return verified }
        var cache = VerificationCache()
        if verbose, let reason = cache.ignoredBecause, let path = cache.path {
            Self.say("lpa-run: ignoring verification cache \(path): \(reason)")
        }
        let progress = HashProgress(quiet: quiet)
        defer { cache.save() }
        do throws(LaunchError) {
            for directory in plan.pins.directories {
                try checkComplete(directory)
            }
            for pin in files {
                let fd = try open(pin.path, origin: pin.origin)
                verified.adopt(fd)
                try check(fd: fd, path: pin.path, expected: pin.sha256, origin: pin.origin,
                          cache: &cache, progress: progress, into: &verified)
                verified.descriptors[pin.path] = fd
                if pin.directory != nil { verified.directoryFiles.insert(pin.path) }
            }
            if let pin = plan.pins.executable, let executable = plan.command.executable {
                let fd = try open(executable, origin: pin.origin)
                verified.adopt(fd)
                try check(fd: fd, path: executable, expected: pin.sha256, origin: pin.origin,
                          cache: &cache, progress: progress, into: &verified)
                verified.descriptors[executable] = fd
                verified.executableTarget = Self.pathOf(fd: fd)
            }
        } catch {
            verified.close()
            throw error
        }
        return verified
    }

    struct Pinned {
        var path: String
        var sha256: String
        var origin: Origin?
        /// The pinned directory this file belongs to, if any.
        var directory: String?
    }

    /// Models with a digest, single-file pins, and every file of every pinned directory;
    /// one entry per path (the compiler reports conflicting digests).
    func pinnedFiles() -> [Pinned] {
        var result: [Pinned] = []
        var seen: Set<String> = []
        for model in plan.models {
            if let sha = model.sha256, seen.insert(model.path).inserted {
                result.append(Pinned(path: model.path, sha256: sha, origin: model.origin))
            }
        }
        for pin in plan.pins.files where seen.insert(pin.path).inserted {
            result.append(Pinned(path: pin.path, sha256: pin.sha256, origin: pin.origin))
        }
        for directory in plan.pins.directories {
            for file in directory.files {
                let path = directory.path + "/" + file.path
                if seen.insert(path).inserted {
                    result.append(Pinned(path: path, sha256: file.sha256, origin: file.origin ?? directory.origin,
                                         directory: directory.path))
                }
            }
        }
        return result
    }

    private func open(_ path: String, origin: Origin?) throws(LaunchError) -> Int32 {
        // O_NONBLOCK: a FIFO planted at a pinned path would block the open; fstat refuses it.
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        if fd < 0 {
            let err = errno
            throw LaunchError(step: "verify pin \(path)", errno: err,
                              message: "the pinned file cannot be opened" + Self.pinnedAt(origin),
                              hint: err == ENOENT ? "restore the file, or remove the pin from the profile" : nil)
        }
        var st = stat()
        if fstat(fd, &st) != 0 || (st.st_mode & S_IFMT) != S_IFREG {
            Glibc.close(fd)
            throw LaunchError(step: "verify pin \(path)", message: "the pinned path is not a regular file" + Self.pinnedAt(origin))
        }
        return fd
    }

    private func check(fd: Int32, path: String, expected: String, origin: Origin?, cache: inout VerificationCache,
                       progress: HashProgress, into verified: inout VerifiedFiles) throws(LaunchError) {
        var st = stat()
        _ = fstat(fd, &st)
        let identity = VerificationCache.Identity(st)
        if cache.digest(for: identity) == expected {
            verified.note(path, cached: true)
            if verbose { Self.say("lpa-run: pin ok (cached): \(path)") }
            return
        }
        progress.begin(path, total: UInt64(max(0, st.st_size)))
        let actual: String
        do throws(FileDigest.Failure) {
            actual = try FileDigest.sha256(fd: fd) { progress.update($0) }
        } catch {
            progress.end()
            throw LaunchError(step: "verify pin \(path)", errno: error.errno, message: "the pinned file cannot be read")
        }
        progress.end()
        guard actual == expected else {
            throw LaunchError(
                step: "verify pin \(path)",
                message: "SHA-256 mismatch" + Self.pinnedAt(origin) + "\n  expected: \(expected)\n  actual:   \(actual)",
                hint: "the file is not the one that was pinned; if the change is intended, "
                    + "update the pin with the line `lpa-run hash \(path)` prints")
        }
        // Recorded only when the file did not change while it was hashed.
        var after = stat()
        if fstat(fd, &after) == 0 && VerificationCache.Identity(after) == identity {
            cache.record(identity, sha256: actual, path: path)
        }
        verified.note(path, cached: false)
        if verbose { Self.say("lpa-run: pin ok (hashed): \(path)") }
    }

    /// Every regular file under a pinned directory must be in its manifest, and links
    /// must stay inside it: a file added next to the pinned ones would otherwise be used
    /// (a plugin, a library found by rpath) without ever being checked.
    private func checkComplete(_ pin: DirectoryPin) throws(LaunchError) {
        let listed = Set(pin.files.map(\.path))
        guard let root = FilePaths.realPath(pin.path) else {
            throw LaunchError(step: "verify pin \(pin.path)", errno: errno,
                              message: "the pinned directory cannot be opened" + Self.pinnedAt(pin.origin))
        }
        var problem: String?
        DirectoryWalk.walk(pin.path) { relative, type in
            guard problem == nil else { return }
            switch type {
            case .file:
                if !listed.contains(relative) { problem = "'\(relative)' is not in the pinned manifest" }
            case .link:
                let real = FilePaths.realPath(pin.path + "/" + relative)
                if real == nil || !(real! == root || real!.hasPrefix(root + "/")) {
                    problem = "the link '\(relative)' leads outside the pinned directory"
                }
            case .other:
                problem = "'\(relative)' is neither a file, a directory nor a link"
            case .unreadable(let err):
                problem = "'\(relative)' cannot be read (\(String(cString: strerror(err))))"
            }
        }
        if let problem {
            throw LaunchError(step: "verify pin \(pin.path)", message: problem + Self.pinnedAt(pin.origin),
                              hint: "check what changed; `lpa-run hash \(pin.path)` prints a new manifest")
        }
    }

    static func say(_ text: String) { writeStandardError(text + "\n") }

    static func pinnedAt(_ origin: Origin?) -> String {
        origin.map { " (pinned at \($0))" } ?? ""
    }

    /// The path a descriptor was opened at, as the kernel resolved it.
    static func pathOf(fd: Int32) -> String? {
        guard let path = FilePaths.path(ofDescriptor: fd) else { return nil }
        return path.hasPrefix("/") && !path.hasSuffix(" (deleted)") ? path : nil
    }
}

/// A recursive walk that does not follow links, in name order.
public enum DirectoryWalk {
    public enum EntryType: Equatable { case file, link, other, unreadable(Int32) }

    public static func walk(_ root: String, _ visit: (String, EntryType) -> Void) {
        walk(root, prefix: "", visit)
    }

    private static func walk(_ directory: String, prefix: String, _ visit: (String, EntryType) -> Void) {
        guard let dir = opendir(directory) else {
            visit(prefix.isEmpty ? "." : String(prefix.dropLast()), .unreadable(errno))
            return
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        for name in names.sorted() {
            let path = directory + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else { visit(prefix + name, .unreadable(errno)); continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: walk(path, prefix: prefix + name + "/", visit)
            case S_IFREG: visit(prefix + name, .file)
            case S_IFLNK: visit(prefix + name, .link)
            default: visit(prefix + name, .other)
            }
        }
    }
}
