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

    /// `remembering`: a run keeps what its socket walks found for the next one
    /// (SocketWalkCache); --dry-run, check, explain and export only read it, so that
    /// they change nothing on the host.
    static func context(remembering: Bool = false) -> HostContext {
        HostContext(environment: environment(), cwd: cwd(), uid: getuid(), gid: getgid(),
                    devices: { DeviceNodes.matching($0) },
                    resolveLinks: { HostReads.note($0); return FilePaths.realPath($0) },
                    unixSockets: { UnixSocketSearch.sockets(under: $0, remember: remembering) },
                    landlockABI: HostSupport.landlockABI(),
                    pathKind: { HostReads.note($0); return pathKind($0) },
                    shebang: { HostReads.note($0, .contents); return shebang(of: $0) })
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

/// One line to stderr, through the launcher's unbuffered writer. Messages quote paths,
/// values and names from the command line, profiles and the sandbox: no control
/// character or bidi override reaches the terminal.
func printError(_ text: String) {
    let safe = TerminalText.printable(text, keepingLines: true)
    writeStandardError(safe.hasSuffix("\n") ? safe : safe + "\n")
}
