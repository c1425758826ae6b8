#if canImport(Glibc)
import Glibc
#endif

/// Runs a C call that returns -1 and sets errno on failure, retrying EINTR, and turns a
/// failure into a LaunchError naming `step`. Every launcher syscall goes through here.
@discardableResult
func sys<T: BinaryInteger>(_ step: @autoclosure () -> String, hint: @autoclosure () -> String? = nil,
                           _ call: () -> T) throws(LaunchError) -> T {
    while true {
        let result = call()
        if result != -1 { return result }
        let err = errno
        if err == EINTR { continue }
        throw LaunchError(step: step(), errno: err, message: "failed", hint: hint())
    }
}

/// Reads a small text file (procfs, sysfs); nil when it cannot be read.
func readSmallFile(_ path: String) -> String? {
    readSmallBytes(path).map { String(decoding: $0, as: UTF8.self) }
}

/// The bytes of a small file (procfs, sysfs); nil when it cannot be read.
func readSmallBytes(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes.append(contentsOf: buffer[0..<n])
    }
    return bytes
}

/// A path held as bytes (it need not be UTF-8), as the C string a system call takes.
func withCPath<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
    (path + [0]).withUnsafeBufferPointer { bytes in
        bytes.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
    }
}

/// A procfs/sysctl file holding one integer; nil when absent or not a number.
func readSmallInteger(_ path: String) -> Int? {
    guard let text = readSmallFile(path) else { return nil }
    return Int(text.filter { !$0.isWhitespace })
}
