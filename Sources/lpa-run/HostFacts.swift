#if canImport(Glibc)
import Glibc
#endif
import LPAPolicy
import LPASandbox

/// The few facts about the calling process that the pure compiler is given.
enum HostFacts {
    static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            entry += 1
        }
        return result
    }

    static func cwd() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func context() -> HostContext {
        HostContext(environment: environment(), cwd: cwd(), uid: getuid(), gid: getgid(),
                    devices: { DeviceNodes.matching($0) },
                    resolveLinks: { FilePaths.realPath($0) },
                    unixSockets: { UnixSocketSearch.sockets(under: $0) },
                    landlockABI: HostSupport.landlockABI(),
                    pathKind: { pathKind($0) },
                    shebang: { shebang(of: $0) })
    }

    /// lstat: a link is reported as a link, never followed.
    static func pathKind(_ path: String) -> HostPathKind? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        case S_IFLNK: return .link
        default: return .other
        }
    }

    /// The longest `#!` line read: the kernel's own limit (BINPRM_BUF_SIZE) is 256.
    static let shebangLimit = 256

    /// The first word after `#!` in a regular file, opened without following a link at
    /// its last component and without blocking (a FIFO), at most `shebangLimit` bytes:
    /// the script may be hostile. nil for anything else.
    static func shebang(of path: String) -> String? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        var buffer = [UInt8](repeating: 0, count: shebangLimit)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, shebangLimit) }
        guard count > 2, buffer[0] == UInt8(ascii: "#"), buffer[1] == UInt8(ascii: "!") else { return nil }
        let line = buffer[2..<count].prefix { $0 != UInt8(ascii: "\n") }
        let word = line.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            .prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: "\r") }
        guard word.first == UInt8(ascii: "/"), !word.contains(0) else { return nil }
        return String(decoding: word, as: UTF8.self)
    }

}

/// Finds unix socket files under a bind source before the compiler decides on it. Two
/// searches, both cheap enough for every start: the sockets bound by name in this network
/// namespace (/proc/net/unix, at any depth), and a walk of the source itself, bounded in
/// depth and entries (start-up is benchmarked), for sockets bound from another network
/// namespace. A socket deeper than the walk and bound elsewhere can be missed.
enum UnixSocketSearch {
    static let walkDepth = 4
    static let walkEntries = 512

    static func sockets(under source: String) -> [String] {
        let real = FilePaths.realPath(source) ?? source
        var found = listed.filter { path in
            [source, real].contains { PathNormalizer.isWithin(path, $0) } && isSocket(path)
        }
        for path in walk(real) where !found.contains(path) { found.append(path) }
        return found
    }

    /// Absolute paths of the unix sockets listed in /proc/net/unix that still exist.
    static let listed: [String] = {
        guard let text = try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8) else { return [] }
        // "Num RefCount Protocol Flags Type St Inode Path": the path is the rest of the line.
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 7, omittingEmptySubsequences: true)
            guard fields.count == 8, fields[7].hasPrefix("/") else { return nil }
            return String(fields[7])
        }
    }()

    private static func isSocket(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
    }

    /// Breadth first, never through links, at most `walkEntries` entries.
    private static func walk(_ root: String) -> [String] {
        if isSocket(root) { return [root] }
        var found: [String] = []
        var queue: [(path: String, depth: Int)] = [(root, 0)]
        var seen = 0
        var next = 0
        while next < queue.count && seen < walkEntries {
            let (directory, depth) = queue[next]
            next += 1
            guard let stream = opendir(directory) else { continue }
            defer { closedir(stream) }
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
                    guard lstat(path, &st) == 0 else { continue }
                    type = (st.st_mode & S_IFMT) == S_IFDIR ? Int32(DT_DIR)
                        : (st.st_mode & S_IFMT) == S_IFSOCK ? Int32(DT_SOCK) : Int32(DT_REG)
                }
                if type == Int32(DT_SOCK) {
                    found.append(path)
                } else if type == Int32(DT_DIR) && depth + 1 < walkDepth {
                    queue.append((path, depth + 1))
                }
            }
        }
        return found
    }
}

/// One line to stderr, through the launcher's unbuffered writer. Messages quote paths,
/// values and names from the command line, profiles and the sandbox: no control
/// character or bidi override reaches the terminal.
func printError(_ text: String) {
    let safe = TerminalText.printable(text, keepingLines: true)
    writeStandardError(safe.hasSuffix("\n") ? safe : safe + "\n")
}
