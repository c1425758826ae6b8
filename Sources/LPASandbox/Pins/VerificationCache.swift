#if canImport(Glibc)
import Glibc
#endif

/// Remembers files that matched their pin, so a 10 GB model is not hashed on every
/// start. An entry is used only while the file's device, inode, size, mtime and ctime
/// (nanoseconds) are all unchanged: any write changes mtime and ctime, and ctime cannot
/// be set back by an unprivileged user. Lives in `$XDG_CACHE_HOME/lpa-run/verified.v1`
/// on the host. A cache that is not ours (owner, permissions), not a regular file, or
/// not exactly in this format is ignored as a whole, never trusted in part.
public struct VerificationCache {
    static let header = "lpa-run verification cache 1"
    static let fileName = "verified.v1"
    /// Oldest entries are dropped beyond this many.
    static let capacity = 4096

    /// What identifies one version of a file's contents.
    public struct Identity: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var mtime: (Int, Int)
        var ctime: (Int, Int)

        public init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            mtime = (st.st_mtim.tv_sec, st.st_mtim.tv_nsec)
            ctime = (st.st_ctim.tv_sec, st.st_ctim.tv_nsec)
        }

        var fields: String {
            "\(device) \(inode) \(size) \(mtime.0) \(mtime.1) \(ctime.0) \(ctime.1)"
        }

        public static func == (a: Identity, b: Identity) -> Bool { a.fields == b.fields }
        public func hash(into hasher: inout Hasher) { hasher.combine(fields) }
    }

    struct Entry {
        var identity: Identity
        var sha256: String
        var path: String
    }

    /// The cache file, or nil when no cache directory can be named (no HOME).
    public let path: String?
    private(set) var entries: [Entry] = []
    private var changed = false
    /// Why an existing cache file was ignored, for -v.
    public private(set) var ignoredBecause: String?

    /// `$XDG_CACHE_HOME/lpa-run` of the host process (not the sandbox's environment),
    /// defaulting to `$HOME/.cache/lpa-run`.
    public static func defaultDirectory() -> String? {
        if let xdg = getenv("XDG_CACHE_HOME").map({ String(cString: $0) }), xdg.hasPrefix("/") {
            return xdg + "/lpa-run"
        }
        if let home = getenv("HOME").map({ String(cString: $0) }), home.hasPrefix("/") {
            return home + "/.cache/lpa-run"
        }
        return nil
    }

    /// The directory, kept for `save` (it is created then, and only under a directory
    /// the caller owns: CacheDirectory).
    private let directory: String?

    public init(directory: String? = VerificationCache.defaultDirectory()) {
        self.directory = directory
        path = directory.map { $0 + "/" + Self.fileName }
        guard let directory, let opened = CacheDirectory.open(directory, create: false) else { return }
        defer { opened.close() }
        switch Self.load(opened) {
        case .success(let loaded): entries = loaded
        case .failure(let reason): ignoredBecause = reason.text
        }
    }

    /// The digest recorded for exactly this version of a file, if any.
    public func digest(for identity: Identity) -> String? {
        entries.last { $0.identity == identity }?.sha256
    }

    public mutating func record(_ identity: Identity, sha256: String, path filePath: String) {
        // Paths are for people reading the file; one with a newline cannot be written.
        guard !filePath.contains("\n") else { return }
        entries.removeAll { $0.identity.device == identity.device && $0.identity.inode == identity.inode }
        entries.append(Entry(identity: identity, sha256: sha256, path: filePath))
        if entries.count > Self.capacity { entries.removeFirst(entries.count - Self.capacity) }
        changed = true
    }

    /// Writes the cache atomically (temporary file + rename) when it changed. Failures
    /// are not errors: the next run hashes again.
    public mutating func save() {
        guard changed, let directory, let opened = CacheDirectory.open(directory, create: true) else { return }
        defer { opened.close() }
        changed = false
        var text = Self.header + "\n"
        for e in entries { text += "\(e.identity.fields) \(e.sha256) \(e.path)\n" }
        opened.write(Self.fileName, Array(text.utf8), sync: true)
    }

    static func load(_ directory: CacheDirectory) -> Result<[Entry], CacheDirectory.Ignored> {
        let bytes: [UInt8]
        switch directory.read(fileName, limit: 16 << 20) {
        case .success(nil): return .success([])
        case .success(let read?): bytes = read
        case .failure(let reason): return .failure(reason)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(.corrupt("not UTF-8")) }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == Substring(header) else { return .failure(.corrupt("wrong header or version")) }
        guard lines.last == "" else { return .failure(.corrupt("truncated")) }
        lines.removeFirst()
        lines.removeLast()
        var entries: [Entry] = []
        for (number, line) in lines.enumerated() {
            guard let entry = parse(line) else { return .failure(.corrupt("line \(number + 2)")) }
            entries.append(entry)
        }
        return .success(entries)
    }

    static func parse(_ line: Substring) -> Entry? {
        let fields = line.split(separator: " ", maxSplits: 8, omittingEmptySubsequences: false)
        guard fields.count == 9 else { return nil }
        guard let device = UInt64(fields[0]), let inode = UInt64(fields[1]), let size = Int64(fields[2]),
              let ms = Int(fields[3]), let mn = Int(fields[4]), let cs = Int(fields[5]), let cn = Int(fields[6]),
              (0..<1_000_000_000).contains(mn), (0..<1_000_000_000).contains(cn), size >= 0
        else { return nil }
        let sha = String(fields[7])
        guard sha.count == 64, sha.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
              fields[8].hasPrefix("/") else { return nil }
        var st = stat()
        st.st_dev = dev_t(device)
        st.st_ino = ino_t(inode)
        st.st_size = off_t(size)
        st.st_mtim = timespec(tv_sec: ms, tv_nsec: mn)
        st.st_ctim = timespec(tv_sec: cs, tv_nsec: cn)
        return Entry(identity: Identity(st), sha256: sha, path: String(fields[8]))
    }
}
