/// The start-up caches' file parsers (socket walks, seccomp programs), for the fuzzer
/// (Sources/lpa-fuzz, target `start-caches`): only the caller can write these files,
/// but a damaged one must be refused whole, never half-read.
public enum StartCacheFuzzTargets {
    /// The walks file: nil when refused; else each root and its first directory (which
    /// must be the root), directory and socket counts.
    public static func walks(_ bytes: [UInt8]) -> [(root: String, first: String?, directories: Int, sockets: [String])]? {
        bytes.withUnsafeBufferPointer { SocketWalkCache.parse(bytes: $0) }?.map {
            ($0.root, $0.directories.first?.path, $0.directories.count, $0.sockets)
        }
    }

    /// The walks file written back from what was read (nil when refused).
    public static func walksRewritten(_ bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBufferPointer { SocketWalkCache.parse(bytes: $0) }.map { Array(SocketWalkCache.format($0).utf8) }
    }

    /// The filters file: nil when refused; else its entries' key and program sizes, and
    /// the file written back from them.
    public static func filters(_ bytes: [UInt8]) -> (sizes: [(key: Int, program: Int)], rewritten: [UInt8])? {
        FilterCache.parse(bytes).map { entries in
            (entries.map { ($0.key.count, $0.program.count) }, FilterCache.format(entries))
        }
    }

    /// The most instructions a kept program may have (BPF_MAXINSNS).
    public static var maxInstructions: Int { FilterCache.maxInstructions }
}
