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
                    devices: { DeviceNodes.matching($0) })
    }
}

/// One line to stderr, through the launcher's unbuffered writer.
func printError(_ text: String) {
    writeStandardError(text.hasSuffix("\n") ? text : text + "\n")
}
