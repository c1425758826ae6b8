#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy

/// Finds unix socket files under a bind source before the compiler decides on it. Two
/// searches: the sockets bound by name in this network namespace (/proc/net/unix, at
/// any depth), and a walk of the source itself, bounded in depth and entries, for
/// sockets bound from another network namespace. A socket deeper than the walk and
/// bound elsewhere can be missed.
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

    /// The sockets under `source` (itself included): the listed ones, then the walk's.
    /// `remember`: keep a new walk's result in `cache` (a run); otherwise only read it.
    public static func sockets(under source: String, cache: SocketWalkCache? = .shared,
                               remember: Bool = true) -> [String] {
        let real = FilePaths.realPath(source) ?? source
        var found = listed.filter { path in
            [source, real].contains { PathNormalizer.isWithin(path, $0) } && isSocket(path)
        }
        for path in cachedWalk(real, cache: cache, remember: remember) where !found.contains(path) {
            found.append(path)
        }
        return found
    }

    /// Absolute paths of the unix sockets listed in /proc/net/unix that still exist.
    static let listed: [String] = {
        guard let text = readSmallFile("/proc/net/unix") else { return [] }
        // "Num RefCount Protocol Flags Type St Inode Path": the path is the rest of the line.
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 7, omittingEmptySubsequences: true)
            guard fields.count == 8, fields[7].hasPrefix("/") else { return nil }
            return String(fields[7])
        }
    }()

    static func isSocket(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
    }

    static func cachedWalk(_ root: String, cache: SocketWalkCache?, remember: Bool) -> [String] {
        if let cache, let sockets = cache.sockets(root: root) { return sockets }
        let walk = walk(root)
        if let cache, remember, walk.cacheable { cache.remember(root: root, walk) }
        return walk.sockets
    }

    /// One walk: the sockets, every directory opened (with its identity), and whether
    /// the result may be remembered.
    struct Walk {
        var sockets: [String] = []
        var directories: [SocketWalkCache.Directory] = []
        /// False when something the caller's credentials decide got in the way (a
        /// directory that could not be opened, an entry that could not be examined):
        /// another run (other groups, say) may see more.
        var cacheable = true
    }

    /// Breadth first, never through links, at most `walkEntries` entries.
    static func walk(_ root: String) -> Walk {
        var result = Walk()
        var rootStat = stat()
        guard lstat(root, &rootStat) == 0 else {
            result.cacheable = false
            return result
        }
        switch rootStat.st_mode & S_IFMT {
        case S_IFSOCK: result.sockets = [root]; result.cacheable = false; return result
        case S_IFDIR: break
        default: result.cacheable = false; return result  // nothing to read: no cost to save
        }
        var queue: [(path: String, depth: Int)] = [(root, 0)]
        var seen = 0
        var next = 0
        while next < queue.count && seen < walkEntries {
            let (directory, depth) = queue[next]
            next += 1
            let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            var st = stat()
            guard fd >= 0, fstat(fd, &st) == 0, let stream = fdopendir(fd) else {
                if fd >= 0 { close(fd) }
                result.cacheable = false
                continue
            }
            defer { closedir(stream) }
            // The identity of what was read, taken from the open descriptor: the directory
            // a later lstat of the same path must find.
            result.directories.append(SocketWalkCache.Directory(path: directory, st))
            while seen < walkEntries, let entry = readdir(stream) {
                var type = Int32(entry.pointee.d_type)
                // Most entries are files: counted, never turned into strings.
                guard type == Int32(DT_DIR) || type == Int32(DT_SOCK) || type == Int32(DT_UNKNOWN) else {
                    seen += 1
                    continue
                }
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                seen += 1
                let path = directory == "/" ? "/" + name : directory + "/" + name
                if type == Int32(DT_UNKNOWN) {
                    var st = stat()
                    guard lstat(path, &st) == 0 else {
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
        return result
    }
}

/// The remembered results of `UnixSocketSearch`'s walks, in
/// `$XDG_CACHE_HOME/lpa-run/socket-walks.v1` (the verification cache's directory, which
/// every sandbox has masked). A result is used only while every directory the walk
/// opened still has the same device, inode, mtime and ctime (nanoseconds), looked up
/// again by path. A walk that saw a directory changed in the last
/// `settleSeconds` is not remembered: two changes within one timestamp tick would
/// leave the same mtime (git's "racily clean" entries). A cache file that is not ours
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

    /// The one cache of this process, nil without a cache directory (no HOME) or with
    /// LPA_SOCKET_WALK_CACHE=off.
    public static let shared: SocketWalkCache? = {
        if let off = getenv("LPA_SOCKET_WALK_CACHE"), String(cString: off) == "off" { return nil }
        return VerificationCache.defaultDirectory().map { SocketWalkCache(directory: $0) }
    }()

    let path: String
    private var entries: [Entry]
    private let lock = WalkCacheLock()

    public init(directory: String) {
        path = directory + "/" + Self.fileName
        entries = (try? Self.load(path).get()) ?? []
    }

    /// The remembered sockets under `root`, when every directory of its walk is unchanged.
    func sockets(root: String) -> [String]? {
        let entry = lock.locked { entries.last { $0.root == root } }
        guard let entry, entry.directories.first?.path == root,
              entry.directories.allSatisfy(\.unchanged) else { return nil }
        return entry.sockets
    }

    func remember(root: String, _ walk: UnixSocketSearch.Walk) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        func settled(_ time: (Int, Int)) -> Bool {
            (now.tv_sec - time.0) * 1_000_000_000 + (now.tv_nsec - time.1) > Self.settleSeconds * 1_000_000_000
        }
        let paths = [root] + walk.sockets + walk.directories.map(\.path)
        guard !walk.directories.isEmpty,
              walk.directories.allSatisfy({ settled($0.mtime) && settled($0.ctime) }),
              !paths.contains(where: { $0.utf8.contains(UInt8(ascii: "\n")) || $0.unicodeScalars.contains("\u{FFFD}") })
        else { return }
        let text: String = lock.locked {
            entries.removeAll { $0.root == root }
            entries.append(Entry(root: root, directories: walk.directories, sockets: walk.sockets))
            if entries.count > Self.capacity { entries.removeFirst(entries.count - Self.capacity) }
            return Self.format(entries)
        }
        Self.save(text, to: path)
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

    /// Atomically (temporary file + rename); a failure is not an error: the next run walks.
    static func save(_ text: String, to path: String) {
        let directory = String(path[..<path.lastIndex(of: "/")!])
        guard VerificationCache.makeDirectories(directory) else { return }
        let temporary = "\(path).tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            written += n
        }
        close(fd)
        if written != bytes.count || rename(temporary, path) != 0 { unlink(temporary) }
    }

    static func load(_ path: String) -> Result<[Entry], VerificationCache.Ignored> {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 { return errno == ENOENT ? .success([]) : .failure(.unreadable) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(.unreadable) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .failure(.foreign("not a regular file")) }
        // A file someone else could write could hide a socket from the check.
        guard st.st_uid == geteuid() else { return .failure(.foreign("owned by uid \(st.st_uid)")) }
        guard st.st_mode & 0o022 == 0 else { return .failure(.foreign("writable by group or others")) }
        guard st.st_size <= 4 << 20 else { return .failure(.corrupt("too large")) }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var got = 0
        while got < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        guard got == bytes.count else { return .failure(.unreadable) }
        // Paths were written from Strings: invalid UTF-8 here fails their comparison with
        // the directories found, which only costs a walk.
        let entries = bytes.withUnsafeBufferPointer { parse(bytes: $0) }
        return entries.map { .success($0) } ?? .failure(.corrupt("not in the expected format"))
    }

    /// The whole file or nothing: a header, `root` blocks of `dir` (the root's own first)
    /// and `socket` lines, and `end` (a file cut short has none). Read as bytes: it is
    /// read on every start, and splitting Strings cost a millisecond.
    static func parse(_ text: String) -> [Entry]? {
        var text = text
        return text.withUTF8 { parse(bytes: $0) }
    }

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
