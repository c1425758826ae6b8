#if canImport(Glibc)
import Glibc
#endif
import CSeccomp
import CWindow

/// Seccomp programs built before, in `$XDG_CACHE_HOME/lpa-run/seccomp-filters.v1`
/// (CacheDirectory: the caller's own directory, masked in every sandbox). libseccomp
/// took 0.3-0.4 ms of each start to turn the same rules into the same BPF. An entry is
/// found by its key: every input of that work, byte for byte — libseccomp's version and
/// API level, the native architecture, the attributes, and each rule call with its
/// action, syscall number and comparisons, in order (`SeccompFilter.RuleCall`) — so a
/// filter is reused only for exactly the calls that made it. The 16 most recent are
/// kept. A file that is not the caller's, is writable by others, or is not exactly in
/// this format is ignored whole.
public final class FilterCache: @unchecked Sendable {
    static let fileName = "seccomp-filters.v1"
    static let header = Array("lpa-run seccomp filters 1\n".utf8)
    static let trailer = Array("end\n".utf8)
    static let capacity = 16
    /// BPF_MAXINSNS: the kernel loads nothing longer.
    static let maxInstructions = 4096

    struct Entry {
        var key: [UInt8]
        var program: [UInt8]
    }

    /// The cache of this process (`CacheDirectory.startCaches`).
    public static let shared: FilterCache? = CacheDirectory.startCaches.map { FilterCache(directory: $0) }

    let directory: String
    private var entries: [Entry]

    public init(directory: String) {
        self.directory = directory
        let opened = CacheDirectory.open(directory, create: false)
        defer { opened?.close() }
        switch opened?.read(Self.fileName, limit: 2 << 20) {
        case .success(let bytes?): entries = Self.parse(bytes) ?? []
        default: entries = []
        }
    }

    /// Every input of libseccomp's work, as bytes.
    static func key(defaultAction: UInt32, otherArchitectures: UInt32,
                    calls: [SeccompFilter.RuleCall]) -> [UInt8] {
        var key = Array("lpa-run seccomp key 1\n".utf8)
        func put<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { key.append(contentsOf: $0) }
        }
        if let version = seccomp_version() {
            put(version.pointee.major)
            put(version.pointee.minor)
            put(version.pointee.micro)
        }
        put(seccomp_api_get())
        put(seccomp_arch_native())
        // The attributes SeccompFilter.build sets: no_new_privs 0 and the binary tree
        // are fixed (a change to them changes this key's version line).
        put(defaultAction)
        put(otherArchitectures)
        put(UInt32(calls.count))
        for call in calls {
            put(call.action)
            put(call.number)
            put(UInt32(call.conditions.count))
            for condition in call.conditions {
                put(condition.arg)
                put(condition.op.rawValue)
                put(condition.datum_a)
                put(condition.datum_b)
            }
        }
        return key
    }

    /// The program kept for exactly this key.
    func program(for key: [UInt8]) -> [sock_filter]? {
        guard let entry = entries.last(where: { $0.key == key }) else { return nil }
        var program = [sock_filter](repeating: sock_filter(), count: entry.program.count / MemoryLayout<sock_filter>.size)
        program.withUnsafeMutableBytes { raw in
            entry.program.withUnsafeBytes { raw.copyMemory(from: $0) }
        }
        return program
    }

    /// Keeps `program` under `key` (written at once; a failure only costs a rebuild).
    func keep(_ program: [sock_filter], for key: [UInt8]) {
        let bytes = program.withUnsafeBytes { Array($0) }
        guard program.count <= Self.maxInstructions, key.count <= UInt32.max else { return }
        entries.removeAll { $0.key == key }
        entries.append(Entry(key: key, program: bytes))
        if entries.count > Self.capacity { entries.removeFirst(entries.count - Self.capacity) }
        guard let opened = CacheDirectory.open(directory, create: true) else { return }
        defer { opened.close() }
        opened.write(Self.fileName, Self.format(entries), sync: false)
    }

    static func format(_ entries: [Entry]) -> [UInt8] {
        var bytes = header
        for entry in entries {
            withUnsafeBytes(of: UInt32(entry.key.count).littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(entry.program.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes += entry.key
            bytes += entry.program
        }
        return bytes + trailer
    }

    /// The whole file or nothing: the header, entries (key and program lengths, then
    /// both; a program a whole number of instructions, 1 to BPF_MAXINSNS), the trailer.
    static func parse(_ bytes: [UInt8]) -> [Entry]? {
        guard bytes.count >= header.count + trailer.count, bytes.starts(with: header),
              Array(bytes.suffix(trailer.count)) == trailer else { return nil }
        let end = bytes.count - trailer.count
        var at = header.count
        func u32() -> Int? {
            guard end - at >= 4 else { return nil }
            let value = bytes[at..<(at + 4)].reversed().reduce(0) { $0 << 8 | Int($1) }
            at += 4
            return value
        }
        var entries: [Entry] = []
        while at < end {
            guard entries.count < capacity, let keyLength = u32(), let programLength = u32(),
                  keyLength > 0, programLength > 0, programLength % MemoryLayout<sock_filter>.size == 0,
                  programLength / MemoryLayout<sock_filter>.size <= maxInstructions,
                  end - at >= keyLength + programLength else { return nil }
            let key = Array(bytes[at..<(at + keyLength)])
            at += keyLength
            let program = Array(bytes[at..<(at + programLength)])
            at += programLength
            entries.append(Entry(key: key, program: program))
        }
        return entries
    }
}
