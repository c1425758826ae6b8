#if canImport(Glibc)
import Glibc
#endif
import CLaunch

/// The host paths a run's compile and lowering consulted, with what lstat and stat said
/// of each at the moment it was consulted: the launch record's manifest (CLaunch
/// record.c). Every place that asks the host about a path calls `note` first: the
/// command lookup, profile files, the host facts given to the compiler (kinds, #! lines,
/// links, device globs, socket walks), the mount steps. A test (LaunchRecordTests)
/// traces a run's system calls and fails when a path reached the kernel that is neither
/// noted nor known to be re-checked by other means.
///
/// A path is noted with every prefix (lstat: a link swapped in on the way changes its
/// prefix's entry) and with its real path's prefixes, and the path itself also through
/// stat (what a link at its end leads to). For most consults only what each of those is
/// matters: its identity (type, permissions, owner, device, inode), which a directory
/// keeps while files come and go in it (/tmp). Where the contents were read (a profile,
/// a #! line) or a directory listed (a socket walk, a device glob), the path itself is
/// also noted in full: size, mtime and ctime. Fingerprints are taken before the path is
/// used, so a change after that shows on the next run as a mismatch. A path noted in
/// full whose mtime or ctime falls within two seconds of the run's start could change
/// again within the same timestamp tick unseen: then nothing is recorded.
public final class HostReads: @unchecked Sendable {
    /// The run's recorder; nil when nothing is recorded (--dry-run, subcommands, or a
    /// run that cannot be recorded anyway).
    nonisolated(unsafe) public static var active: HostReads?

    /// What was learnt from a path.
    public enum Use: Sendable {
        /// What it is and where it leads (kind, link, owner, permissions).
        case identity
        /// The bytes of the file it names.
        case contents
        /// The entries of the directory it names.
        case listing
    }

    struct Key: Hashable {
        var path: String
        /// LPA_MANIFEST_* bits.
        var how: Int32
    }

    private var prints: [Key: lpa_fingerprint] = [:]
    private var order: [Key] = []
    private(set) var socketBases: [String] = []
    private(set) var requiresNoSwap = false
    /// Why this run is not recorded, nil while it may be.
    private(set) var spoiled: String?
    private let racyAfter: Int64
    private let lock = WalkCacheLock()

    public init() {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        racyAfter = (Int64(now.tv_sec) - 2) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    public var recordable: Bool { lock.locked { spoiled == nil } }
    var whyNot: String? { lock.locked { spoiled } }

    /// Consults of `path` follow: its entry and its prefixes', and its real path's.
    public static func note(_ path: String, _ use: Use = .identity) { active?.add(path, use) }

    /// Consults of raw bytes (non-UTF-8 names cannot be spelt in the record): spoils it.
    static func note(bytes path: [UInt8]) {
        guard let active else { return }
        if let text = String(validating: path, as: UTF8.self) { active.add(text, .identity) } else { active.spoil("a name that is not UTF-8") }
    }

    /// A bind source whose unix sockets were looked for: /proc/net/unix and mountinfo
    /// are searched again under it on every launch from the record.
    static func socketBase(_ path: [UInt8]) {
        guard let active else { return }
        guard let text = String(validating: path, as: UTF8.self) else { return active.spoil("a name that is not UTF-8") }
        active.lock.locked { if !active.socketBases.contains(text) { active.socketBases.append(text) } }
    }

    /// The plan went without noswap because no swap was active: checked again each time.
    static func noteNoSwapRequired() { active?.lock.locked { active?.requiresNoSwap = true } }

    /// Something the record cannot re-check was consulted: this run is not recorded.
    public static func spoil(_ why: String) { active?.spoil(why) }

    func spoil(_ why: String) { lock.locked { if spoiled == nil { spoiled = why } } }

    private func add(_ path: String, _ use: Use) {
        guard !path.isEmpty, !path.utf8.contains(0) else { return spoil("an empty path") }
        let identity = Int32(LPA_MANIFEST_IDENTITY.rawValue), follow = Int32(LPA_MANIFEST_FOLLOW.rawValue)
        var paths = Self.prefixes(path)
        if let real = path.withCString({ realpath($0, nil) }) {
            let text = String(cString: real)
            free(real)
            if text != path { paths += Self.prefixes(text) }
        }
        for prefix in paths { take(Key(path: prefix, how: identity)) }
        take(Key(path: path, how: identity | follow))
        switch use {
        case .identity: break
        case .contents: take(Key(path: path, how: follow))
        case .listing: take(Key(path: path, how: 0))
        }
    }

    /// "/a/b/c" -> "/a", "/a/b", "/a/b/c"; "a/b" -> "a", "a/b" (as written, doubled
    /// slashes kept out).
    static func prefixes(_ path: String) -> [String] {
        var result: [String] = []
        var current = path.hasPrefix("/") ? "" : nil as String?
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            current = current.map { $0 + "/" + component } ?? String(component)
            result.append(current!)
        }
        if result.isEmpty, path.hasPrefix("/") { result.append("/") }
        return result
    }

    private func take(_ key: Key) {
        var print = lpa_fingerprint()
        let racy = lpa_fingerprint_take(key.path, key.how, racyAfter, &print) != 0
        lock.locked {
            if racy, spoiled == nil { spoiled = "\(key.path) changed within the last two seconds" }
            if var earlier = prints[key] {
                if lpa_fingerprint_same(&print, &earlier, key.how) == 0, spoiled == nil {
                    spoiled = "\(key.path) changed during the run's start"
                }
                return
            }
            prints[key] = print
            order.append(key)
        }
    }

    /// The manifest in the order paths were first consulted, without the entries another
    /// entry of the same path implies: a full fingerprint implies the identity taken the
    /// same way, and for a path that is not a link (or does not exist) stat says what
    /// lstat says. A walked directory then costs one lstat per launch, not three.
    var manifest: [(path: String, how: Int32, print: lpa_fingerprint)] {
        let identity = Int32(LPA_MANIFEST_IDENTITY.rawValue), follow = Int32(LPA_MANIFEST_FOLLOW.rawValue)
        return lock.locked {
            order.compactMap { key -> (String, Int32, lpa_fingerprint)? in
                func has(_ how: Int32) -> Bool { prints[Key(path: key.path, how: how)] != nil }
                let lstatPrint = prints[Key(path: key.path, how: 0)] ?? prints[Key(path: key.path, how: identity)]
                let notALink = lstatPrint.map { $0.err != 0 || ($0.mode & UInt32(S_IFMT)) != UInt32(S_IFLNK) } ?? false
                switch key.how {
                case identity where has(0): return nil
                case identity | follow where has(follow) || notALink: return nil
                case follow where has(0) && notALink: return nil
                default: return (key.path, key.how, prints[key]!)
                }
            }
        }
    }
}
