#if canImport(Glibc)
import Glibc
#endif
import Crypto

/// SHA-256 of a file through an open descriptor, streamed in large blocks. swift-crypto
/// is backed by BoringSSL, which uses the CPU's SHA extensions; no hand-written SHA.
/// Shared by the launcher's pin verification and `lpa-run hash`.
public enum FileDigest {
    /// 8 MiB: few enough syscalls that the copy out of the page cache, not the calls,
    /// is the overhead, and small enough to stay in L2/L3-friendly territory.
    public static let blockSize = 8 << 20

    public struct Failure: Error, Sendable {
        public var errno: Int32
    }

    /// Reads `fd` from offset 0 to EOF (pread: the descriptor's offset is left alone)
    /// and returns the lower-case hex digest. `progress` gets the bytes hashed so far.
    public static func sha256(fd: Int32, progress: ((UInt64) -> Void)? = nil) throws(Failure) -> String {
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 4096)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        var offset: off_t = 0
        while true {
            let n = pread(fd, buffer.baseAddress, blockSize, offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(errno: errno)
            }
            if n == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            offset += off_t(n)
            progress?(UInt64(offset))
        }
        return hex(hasher.finalize())
    }

    public static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
