#if canImport(Glibc)
import Glibc
#endif

/// Owns the C strings and arrays handed to the post-clone window, which must not
/// allocate: everything is built here first and freed only after the child started.
final class CStringArena {
    private var strings: [UnsafeMutablePointer<CChar>] = []
    private var buffers: [UnsafeMutableRawPointer] = []

    func string(_ s: String) -> UnsafeMutablePointer<CChar> {
        let p = strdup(s)!
        strings.append(p)
        return p
    }

    /// A NULL-terminated char* array, as execve wants for argv and envp.
    func stringArray(_ items: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: items.count + 1)
        for (i, item) in items.enumerated() { array[i] = string(item) }
        array[items.count] = nil
        buffers.append(UnsafeMutableRawPointer(array))
        return array
    }

    func array<T>(_ items: [T]) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(items.count, 1))
        p.initialize(from: items, count: items.count)
        buffers.append(UnsafeMutableRawPointer(p))
        return p
    }

    deinit {
        strings.forEach { free($0) }
        buffers.forEach { $0.deallocate() }
    }
}
