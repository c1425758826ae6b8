#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import LPASandbox
import Testing

/// The walk for unix sockets under a bind source, and when its result may be
/// remembered (LPASandbox/Network/UnixSocketSearch.swift). Red-team findings of the
/// socket-walk cache, each seen failing before its fix.
@Suite("socket walk")
struct SocketWalkTests {
    static func scratch(_ name: String) throws -> String {
        let directory = NSTemporaryDirectory() + "lpa-walk-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory + "/a/b", withIntermediateDirectories: true)
        return directory
    }

    @Test("a walk is judged against its start: a directory changed just before a long walk is not remembered")
    func settledAgainstTheWalksStart() throws {
        let root = try Self.scratch("start")
        defer { try? FileManager.default.removeItem(atPath: root) }
        Thread.sleep(forTimeInterval: 2.3)
        let cacheDirectory = root + "-cache"
        defer { try? FileManager.default.removeItem(atPath: cacheDirectory) }
        let cache = SocketWalkCache(directory: cacheDirectory)
        var walk = UnixSocketSearch.walk(Array(root.utf8))
        #expect(walk.cacheable)
        // As if the walk had begun 1 s after the newest directory changed and ended now
        // (2.3 s later): a socket made in that directory within the same timestamp tick,
        // behind the walk, would leave the same mtime.
        let newest = walk.directories.map { $0.ctime.0 * 1_000_000_000 + $0.ctime.1 }.max()!
        walk.started = timespec(tv_sec: (newest + 1_000_000_000) / 1_000_000_000,
                                tv_nsec: (newest + 1_000_000_000) % 1_000_000_000)
        cache.remember(root: root, walk)
        #expect(cache.sockets(root: root) == nil, "a walk that began inside the settle window was remembered")
        // The same walk begun now is remembered (the control).
        clock_gettime(CLOCK_REALTIME, &walk.started)
        cache.remember(root: root, walk)
        #expect(cache.sockets(root: root) == [])
    }

    @Test("walks through file systems whose directory times do not follow their entries are not remembered")
    func untrustedFileSystemsAreNotRemembered() {
        // procfs and sysfs stand for overlayfs, NFS and FUSE: only ext4, xfs, btrfs and
        // tmpfs are trusted (an overlay's merged directory shows its upper layer's times).
        for root in ["/proc/sys/kernel", "/sys/kernel"] {
            let walk = UnixSocketSearch.walk(Array(root.utf8))
            #expect(!walk.directories.isEmpty, "\(root) was not read")
            #expect(!walk.cacheable, "\(root) would be remembered")
        }
    }

    @Test("a socket under a directory whose name is not UTF-8 is found")
    func nonUTF8NamesAreWalked() throws {
        let root = try Self.scratch("bytes")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let odd = Array((root + "/a/").utf8) + [0xFF, 0xFE]
        #expect(withCPath(odd) { mkdir($0, 0o755) } == 0)
        try Self.leaveSocketFile(odd + Array("/s.sock".utf8))
        let found = UnixSocketSearch.sockets(under: root, cache: nil)
        #expect(found.count == 1 && found[0].hasSuffix("/s.sock"), "\(found)")
        let walk = UnixSocketSearch.walk(Array(root.utf8))
        #expect(!walk.cacheable, "a walk with a name the cache file cannot hold was remembered")
    }

    @Test("procfs tables: mountinfo's mount points with octal escapes undone, unix socket paths to the line's end")
    func procfsFieldsAreRead() throws {
        let file = NSTemporaryDirectory() + "lpa-walk-fields-\(getpid())"
        defer { unlink(file) }
        try Data(("36 35 98:0 /mnt1 /mnt/with\\040space rw - ext3 /dev/root rw\n"
                  + "37 35 98:0 / /odd\\377name\\134 rw - ext3 /dev/root rw\n"
                  + "short line\n").utf8).write(to: URL(fileURLWithPath: file))
        let points = UnixSocketSearch.fields(of: file, skipping: 4, header: false, toSpace: true, unescape: true)
        #expect(points == [Array("/mnt/with space".utf8), Array("/odd".utf8) + [0xFF] + Array("name\\".utf8)])
        try Data(("Num       RefCount Protocol Flags    Type St Inode Path\n"
                  + "0000: 00000002 00000000 00010000 0001 01 20570 /run/a b.sock\n"
                  + "0000: 00000002 00000000 00000000 0002 01 10745\n"
                  + "0000: 00000002 00000000 00010000 0001 01 20571 @abstract\n").utf8).write(to: URL(fileURLWithPath: file))
        #expect(UnixSocketSearch.fields(of: file, skipping: 7, header: true)
                    == [Array("/run/a b.sock".utf8), Array("@abstract".utf8)])
        #expect(UnixSocketSearch.mountPoints.contains(Array("/".utf8)))
    }

    /// A socket file nobody listens on (only a walk can find it).
    static func leaveSocketFile(_ path: [UInt8]) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { throw POSIXError(.ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    }
}
