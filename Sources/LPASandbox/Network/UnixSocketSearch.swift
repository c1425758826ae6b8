#if canImport(Glibc)
import Glibc
#endif
import CShims
import LPAPolicy

/// Finds unix socket files under a bind source before the compiler decides on it. Three
/// searches: the sockets of this network namespace listed in /proc/net/unix under the
/// path they were bound by (at any depth, when that was an absolute path that still
/// names them), the mount points under the source (a socket bind-mounted over a file:
/// its directory lists a file), and a walk of the source itself, bounded in depth and
/// entries, for the rest (bound from another network namespace, by a relative path,
/// through a link, renamed or hard-linked since). Known limits (red team): a socket
/// deeper than the walk, past its 512 entries, or in a directory the caller cannot
/// list, and not found the first way, is missed. Paths are handled as bytes: a name
/// that is not UTF-8 is still opened and examined (a socket under it is reported,
/// lossily spelled, and refused like any other).
///
/// The walk reads every directory it visits, and reading the large directories of a
/// system bind (/usr/bin, /usr/lib) was the largest single cost of a start (about 2 ms
/// of 13 here). Its result is remembered (`SocketWalkCache`) with the identity and
/// timestamps of every directory it opened: a directory's entries cannot change without
/// its mtime and ctime changing, and ctime cannot be set back, so an unchanged set of
/// directories gives the same walk.
public enum UnixSocketSearch {
    static let walkDepth = 4
    static let walkEntries = 512
    /// A walk slower than this is not remembered: the longer it runs, the more can
    /// change behind it within one timestamp tick.
    static let slowWalkNanoseconds = 1_000_000_000

    /// The sockets under `source` (itself included): the listed and mounted ones, then
    /// the walk's. `remember`: keep a new walk's result in `cache` (a run); otherwise
    /// only read it.
    public static func sockets(under source: String, cache: SocketWalkCache? = .shared,
                               remember: Bool = true) -> [String] {
        // The real path as bytes: a link may lead to a name that is not UTF-8.
        let real = source.withCString { realpath($0, nil) }.map { resolved in
            defer { free(resolved) }
            return Array(UnsafeBufferPointer(start: UnsafeRawPointer(resolved).assumingMemoryBound(to: UInt8.self),
                                             count: strlen(resolved)))
        } ?? Array(source.utf8)
        let bases = [Array(source.utf8), real]
        // The launch record searches the two tables again under these on every launch.
        HostReads.note(source)
        bases.forEach { HostReads.socketBase($0) }
        var found: [String] = []
        func add(_ path: [UInt8]) {
            let text = String(decoding: path, as: UTF8.self)
            if !found.contains(text) { found.append(text) }
        }
        for path in listed + mountPoints where bases.contains(where: { isWithin(path, $0) }) && isSocket(path) {
            add(path)
        }
        for path in cachedWalk(real, cache: cache, remember: remember) { add(path) }
        return found
    }

    /// `path` is `base` or lies beneath it (bytes; "/" holds everything).
    static func isWithin(_ path: [UInt8], _ base: [UInt8]) -> Bool {
        base == [UInt8(ascii: "/")] || path == base
            || (path.count > base.count && path.starts(with: base) && path[base.count] == UInt8(ascii: "/"))
    }

    /// Absolute paths of the unix sockets listed in /proc/net/unix.
    static let listed: [[UInt8]] = {
        // "Num RefCount Protocol Flags Type St Inode Path": the path is the rest of the line.
        fields(of: "/proc/net/unix", skipping: 7, header: true).filter { $0.first == UInt8(ascii: "/") }
    }()

    /// The mount points of this mount namespace (/proc/self/mountinfo field 5, with its
    /// octal escapes undone).
    static let mountPoints: [[UInt8]] = {
        fields(of: "/proc/self/mountinfo", skipping: 4, header: false, toSpace: true, unescape: true)
            .filter { $0.first == UInt8(ascii: "/") }
    }()

    /// From each line of a procfs table, the field after `skipping` space-separated ones:
    /// to the end of the line, or to the next space (`toSpace`), with `\ooo` escapes
    /// undone (`unescape`). Index loops over one buffer: this runs on every start, and
    /// generic slicing cost a fifth of a millisecond for 24 lines.
    static func fields(of file: String, skipping: Int, header: Bool, toSpace: Bool = false,
                       unescape: Bool = false) -> [[UInt8]] {
        guard let bytes = readSmallBytes(file) else { return [] }
        let space = UInt8(ascii: " "), newline = UInt8(ascii: "\n"), backslash = UInt8(ascii: "\\")
        var result: [[UInt8]] = []
        bytes.withUnsafeBufferPointer { b in
            var i = 0
            if header {
                while i < b.count && b[i] != newline { i += 1 }
                i += 1
            }
            while i < b.count {
                var skipped = 0
                while i < b.count && skipped < skipping {
                    while i < b.count && b[i] == space { i += 1 }
                    while i < b.count && b[i] != space && b[i] != newline { i += 1 }
                    if i < b.count && b[i] == newline { break }
                    skipped += 1
                }
                while i < b.count && b[i] == space { i += 1 }
                if skipped == skipping {
                    var field: [UInt8] = []
                    while i < b.count && b[i] != newline && !(toSpace && b[i] == space) {
                        if unescape, b[i] == backslash, i + 3 < b.count,
                           (48...51).contains(b[i + 1]), (48...55).contains(b[i + 2]), (48...55).contains(b[i + 3]) {
                            field.append((b[i + 1] - 48) << 6 | (b[i + 2] - 48) << 3 | (b[i + 3] - 48))
                            i += 4
                        } else {
                            field.append(b[i])
                            i += 1
                        }
                    }
                    result.append(field)
                }
                while i < b.count && b[i] != newline { i += 1 }
                i += 1
            }
        }
        return result
    }

    static func isSocket(_ path: [UInt8]) -> Bool {
        var st = stat()
        return withCPath(path) { lstat($0, &st) } == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
    }

    static func cachedWalk(_ root: [UInt8], cache: SocketWalkCache?, remember: Bool) -> [[UInt8]] {
        // A root the cache file cannot spell (not UTF-8) is walked every time.
        let text = String(validating: root, as: UTF8.self)
        if let cache, let text, let entry = cache.entry(root: text) {
            noteWalked(entry.directories)
            return entry.sockets.map { Array($0.utf8) }
        }
        let walk = walk(root)
        if let cache, let text, remember, walk.cacheable { cache.remember(root: text, walk) }
        if walk.cacheable { noteWalked(walk.directories) } else { HostReads.spoil("a socket walk that cannot be remembered") }
        return walk.sockets
    }

    /// The launch record's manifest gets every directory the walk read, as the walk saw
    /// it: a directory that changed since (its entries may differ) spoils the record.
    static func noteWalked(_ directories: [SocketWalkCache.Directory]) {
        guard let reads = HostReads.active else { return }
        for directory in directories {
            HostReads.note(directory.path, .listing)
            var now = stat()
            guard lstat(directory.path, &now) == 0, SocketWalkCache.Directory(path: directory.path, now) == directory else {
                return reads.spoil("\(directory.path) changed while its sockets were looked for")
            }
        }
    }

    /// One walk: the sockets, every directory opened (with its identity), and whether
    /// the result may be remembered.
    struct Walk {
        var sockets: [[UInt8]] = []
        var directories: [SocketWalkCache.Directory] = []
        /// False when the result may not hold for another run: something the caller's
        /// credentials decide got in the way (a directory that could not be opened, an
        /// entry that could not be examined: another run, with other groups, may see
        /// more), a read error, a name that is not UTF-8 (the cache file holds text),
        /// a file system whose timestamps do not follow its entries, a slow walk.
        var cacheable = true
        /// When the walk began (CLOCK_REALTIME, like file timestamps): a directory
        /// changed in the `settleSeconds` before it may change again unseen.
        var started = timespec()
    }

    /// File systems whose directory mtime and ctime change with every entry added or
    /// removed: ext4 (ext2, ext3), xfs, btrfs, tmpfs. Not overlayfs (a merged directory
    /// shows its upper layer's times while lower layers change), NFS (attribute
    /// caching), FUSE (times of the server's choosing), or anything else unknown.
    static let timestampsFollowEntries: Set<Int> = [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994]

    /// Breadth first, never through links, at most `walkEntries` entries.
    static func walk(_ root: [UInt8]) -> Walk {
        var result = Walk()
        clock_gettime(CLOCK_REALTIME, &result.started)
        var began = timespec()
        clock_gettime(CLOCK_MONOTONIC, &began)
        var rootStat = stat()
        guard withCPath(root, { lstat($0, &rootStat) }) == 0 else {
            result.cacheable = false
            return result
        }
        switch rootStat.st_mode & S_IFMT {
        case S_IFSOCK: result.sockets = [root]; result.cacheable = false; return result
        case S_IFDIR: break
        default: result.cacheable = false; return result  // nothing to read: no cost to save
        }
        var queue: [(path: [UInt8], depth: Int)] = [(root, 0)]
        var seen = 0
        var next = 0
        while next < queue.count && seen < walkEntries {
            let (directory, depth) = queue[next]
            next += 1
            let fd = withCPath(directory) { open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) }
            var st = stat()
            guard fd >= 0, fstat(fd, &st) == 0, let stream = fdopendir(fd) else {
                if fd >= 0 { close(fd) }
                result.cacheable = false
                continue
            }
            defer { closedir(stream) }
            if !timestampsFollowEntries.contains(lpa_fd_filesystem_type(dirfd(stream))) { result.cacheable = false }
            // The identity of what was read, taken from the open descriptor: the directory
            // a later lstat of the same path must find.
            if let text = String(validating: directory, as: UTF8.self), !directory.contains(UInt8(ascii: "\n")) {
                result.directories.append(SocketWalkCache.Directory(path: text, st))
            } else {
                result.cacheable = false
            }
            let prefix = directory == [UInt8(ascii: "/")] ? directory : directory + [UInt8(ascii: "/")]
            while seen < walkEntries {
                // readdir's NULL is the end or an error (EIO, ESTALE): only errno tells.
                errno = 0
                guard let entry = readdir(stream) else {
                    if errno != 0 { result.cacheable = false }
                    break
                }
                var type = Int32(entry.pointee.d_type)
                // Most entries are files: counted, never copied.
                guard type == Int32(DT_DIR) || type == Int32(DT_SOCK) || type == Int32(DT_UNKNOWN) else {
                    seen += 1
                    continue
                }
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
                if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
                seen += 1
                let path = prefix + name
                if type == Int32(DT_UNKNOWN) {
                    var st = stat()
                    guard withCPath(path, { lstat($0, &st) }) == 0 else {
                        result.cacheable = false
                        continue
                    }
                    type = (st.st_mode & S_IFMT) == S_IFDIR ? Int32(DT_DIR)
                        : (st.st_mode & S_IFMT) == S_IFSOCK ? Int32(DT_SOCK) : Int32(DT_REG)
                }
                if type == Int32(DT_SOCK) {
                    result.sockets.append(path)
                } else if type == Int32(DT_DIR) && depth + 1 < walkDepth {
                    queue.append((path, depth + 1))
                }
            }
        }
        var ended = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ended)
        if (ended.tv_sec - began.tv_sec) * 1_000_000_000 + (ended.tv_nsec - began.tv_nsec) > slowWalkNanoseconds {
            result.cacheable = false
        }
        return result
    }
}

/// The remembered results of `UnixSocketSearch`'s walks, in
/// `$XDG_CACHE_HOME/lpa-run/socket-walks.v1` (the verification cache's directory, which
/// every sandbox has masked). A result is used only while every directory the walk
/// opened still has the same device, inode, mtime and ctime (nanoseconds), looked up
/// again by path. A walk that saw a directory changed in the `settleSeconds` before
/// the walk began is not remembered: two changes within one timestamp tick would leave
/// the same mtime (git's "racily clean" entries). A cache file that is not ours
/// (owner, permissions), not a regular file, or not exactly in this format is ignored
/// as a whole.
public final class SocketWalkCache: @unchecked Sendable {
    static let header = "lpa-run socket walk cache 1"
    static let fileName = "socket-walks.v1"
    /// Roots kept (the most recent).
    static let capacity = 64
    static let settleSeconds = 2

    struct Directory: Equatable {
        var path: String
        var device: UInt64
        var inode: UInt64
        var mtime: (Int, Int)
        var ctime: (Int, Int)

        init(path: String, _ st: stat) {
            self.path = path
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            mtime = (st.st_mtim.tv_sec, st.st_mtim.tv_nsec)
            ctime = (st.st_ctim.tv_sec, st.st_ctim.tv_nsec)
        }

        static func == (a: Directory, b: Directory) -> Bool {
            a.path == b.path && a.device == b.device && a.inode == b.inode
                && a.mtime == b.mtime && a.ctime == b.ctime
        }

        /// Still the same directory at the same path, unchanged.
        var unchanged: Bool {
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return false }
            return Directory(path: path, st) == self
        }
    }

    struct Entry {
        var root: String
        var directories: [Directory]
        var sockets: [String]
    }

    /// The one cache of this process (`CacheDirectory.startCaches`).
    public static let shared: SocketWalkCache? = CacheDirectory.startCaches.map { SocketWalkCache(directory: $0) }

    /// The cache directory (`CacheDirectory`: the caller's own, created on the first save).
    let directory: String
    private var entries: [Entry]
    private let lock = WalkCacheLock()

    public init(directory: String) {
        self.directory = directory
        let opened = CacheDirectory.open(directory, create: false)
        defer { opened?.close() }
        entries = opened.flatMap { try? Self.load($0).get() } ?? []
    }

    /// The remembered sockets under `root`, when every directory of its walk is unchanged.
    func sockets(root: String) -> [String]? { entry(root: root)?.sockets }

    /// The remembered walk of `root`, when every directory it read is unchanged.
    func entry(root: String) -> Entry? {
        let entry = lock.locked { entries.last { $0.root == root } }
        guard let entry, entry.directories.first?.path == root,
              entry.directories.allSatisfy(\.unchanged) else { return nil }
        return entry
    }

    func remember(root: String, _ walk: UnixSocketSearch.Walk) {
        // Against the walk's start, not its end: a directory read early in a long walk
        // may have changed again, unseen, within its timestamp tick.
        let now = walk.started
        func settled(_ time: (Int, Int)) -> Bool {
            (now.tv_sec - time.0) * 1_000_000_000 + (now.tv_nsec - time.1) > Self.settleSeconds * 1_000_000_000
        }
        let sockets = walk.sockets.compactMap { String(validating: $0, as: UTF8.self) }
        let paths = [root] + sockets + walk.directories.map(\.path)
        guard !walk.directories.isEmpty, sockets.count == walk.sockets.count,
              walk.directories.allSatisfy({ settled($0.mtime) && settled($0.ctime) }),
              !paths.contains(where: { $0.utf8.contains(UInt8(ascii: "\n")) })
        else { return }
        let text: String = lock.locked {
            entries.removeAll { $0.root == root }
            entries.append(Entry(root: root, directories: walk.directories, sockets: sockets))
            if entries.count > Self.capacity { entries.removeFirst(entries.count - Self.capacity) }
            return Self.format(entries)
        }
        Self.save(text, to: directory)
    }

    static func format(_ entries: [Entry]) -> String {
        var text = header + "\n"
        for entry in entries {
            text += "root \(entry.root)\n"
            for d in entry.directories {
                text += "dir \(d.device) \(d.inode) \(d.mtime.0) \(d.mtime.1) \(d.ctime.0) \(d.ctime.1) \(d.path)\n"
            }
            for socket in entry.sockets { text += "socket \(socket)\n" }
        }
        return text + "end\n"
    }

    /// Atomically (temporary file + rename), unsynced (a torn file is ignored whole); a
    /// failure is not an error: the next run walks.
    static func save(_ text: String, to directory: String) {
        guard let opened = CacheDirectory.open(directory, create: true) else { return }
        defer { opened.close() }
        opened.write(fileName, Array(text.utf8), sync: false)
    }

    static func load(_ directory: CacheDirectory) -> Result<[Entry], CacheDirectory.Ignored> {
        switch directory.read(fileName, limit: 4 << 20) {
        case .success(nil): return .success([])
        case .success(let bytes?):
            // Paths were written from valid UTF-8: anything else fails the format.
            let entries = bytes.withUnsafeBufferPointer { parse(bytes: $0) }
            return entries.map { .success($0) } ?? .failure(.corrupt("not in the expected format"))
        case .failure(let reason): return .failure(reason)
        }
    }

    /// The whole file or nothing: a header, `root` blocks of `dir` (the root's own first)
    /// and `socket` lines, and `end` (a file cut short has none). Read as bytes: it is
    /// read on every start, and splitting Strings cost a millisecond.
    static func parse(bytes: UnsafeBufferPointer<UInt8>) -> [Entry]? {
        var lines: [Slice<UnsafeBufferPointer<UInt8>>] = []
        var start = 0
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            lines.append(bytes[start..<index])
            start = index + 1
        }
        // Every line ends in a newline; the last is `end`.
        guard start == bytes.count, lines.count >= 2, lines.first.map({ Array($0) }) == Array(header.utf8),
              lines.last.map({ Array($0) }) == Array("end".utf8) else { return nil }
        func hasPrefix(_ line: Slice<UnsafeBufferPointer<UInt8>>, _ prefix: StaticString) -> Bool {
            line.count >= prefix.utf8CodeUnitCount
                && zip(line, UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)).allSatisfy(==)
        }
        var entries: [Entry] = []
        for line in lines.dropFirst().dropLast() {
            if hasPrefix(line, "root /") {
                entries.append(Entry(root: String(decoding: line.dropFirst(5), as: UTF8.self), directories: [], sockets: []))
            } else if hasPrefix(line, "dir "), !entries.isEmpty {
                // Six decimal numbers, then the path (which may hold spaces).
                var cursor = line.startIndex + 4
                var numbers: [UInt64] = []
                while numbers.count < 6 {
                    var value: UInt64 = 0
                    let first = cursor
                    while cursor < line.endIndex, (48...57).contains(line[cursor]), cursor - first < 19 {
                        value = value * 10 + UInt64(line[cursor] - 48)
                        cursor += 1
                    }
                    guard cursor > first, cursor < line.endIndex, line[cursor] == UInt8(ascii: " ") else { return nil }
                    numbers.append(value)
                    cursor += 1
                }
                guard cursor < line.endIndex, line[cursor] == UInt8(ascii: "/"),
                      numbers[3] < 1_000_000_000, numbers[5] < 1_000_000_000,
                      numbers[2] <= UInt64(Int.max), numbers[4] <= UInt64(Int.max) else { return nil }
                var st = stat()
                st.st_dev = dev_t(numbers[0])
                st.st_ino = ino_t(numbers[1])
                st.st_mtim = timespec(tv_sec: Int(numbers[2]), tv_nsec: Int(numbers[3]))
                st.st_ctim = timespec(tv_sec: Int(numbers[4]), tv_nsec: Int(numbers[5]))
                let path = String(decoding: line[cursor...], as: UTF8.self)
                entries[entries.count - 1].directories.append(Directory(path: path, st))
            } else if hasPrefix(line, "socket /"), !entries.isEmpty {
                entries[entries.count - 1].sockets.append(String(decoding: line.dropFirst(7), as: UTF8.self))
            } else {
                return nil
            }
        }
        guard entries.allSatisfy({ $0.directories.first?.path == $0.root }) else { return nil }
        return entries
    }
}

/// A pthread mutex: the compiler may ask about several sources, from any thread.
final class WalkCacheLock: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
