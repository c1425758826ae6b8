import Foundation
import Testing

/// A real TCP listener on the host's 127.0.0.1 (never any other address).
final class LoopbackListener {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.port = UInt16(bigEndian: addr.sin_port)
    }

    func canConnectFromHost() -> Bool {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    deinit { close(fd) }
}

/// A listening abstract unix socket (the X11/D-Bus kind of endpoint).
final class AbstractListener {
    let fd: Int32
    let name: String

    init(name: String) throws {
        self.name = name
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var (addr, len) = Self.address(name)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    static func address(_ name: String) -> (sockaddr_un, socklen_t) {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw[0] = 0
            for (i, b) in bytes.enumerated() { raw[i + 1] = b }
        }
        return (addr, socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count))
    }

    func canConnectFromHost() -> Bool {
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var (addr, len) = Self.address(name)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, len) }
        } == 0
    }

    deinit { close(fd) }
}

/// lpa-run running in the background, with its output readable line by line.
final class RunningSandbox {
    private let child: Spawned

    var pid: pid_t { child.pid }
    /// The signal that killed lpa-run itself, nil when it exited with a status.
    var killedBy: Int32? { child.killedBy }

    convenience init(runner: Runner, probe: [String], profile: String = "strict", options: [String] = []) throws {
        try self.init(runner: runner, arguments: ["--profile", profile] + options + [Binaries.shared.probe] + probe)
    }

    /// lpa-run ARGUMENTS in the background, started as a shell would start it.
    init(runner: Runner, arguments: [String]) throws {
        child = try Spawned(runner.command(arguments), environment: runner.environment(),
                            cwd: Binaries.shared.directory)
    }

    /// Waits (up to `seconds`) until the workload printed `line`.
    func waitForLine(_ line: String, seconds: Double = 30) throws {
        guard child.waitForLine(line, seconds: seconds) else { throw POSIXError(.ETIMEDOUT) }
    }

    /// Waits for exit (up to `seconds`, then kills it and fails the test); returns the
    /// status (128+N for a signal) and stdout followed by stderr.
    func finish(seconds: Double = 60) -> (Int32, String) {
        let (status, stdout, stderr) = child.finish(seconds: seconds)
        return (status, stdout + stderr)
    }
}

enum ProcessTree {
    /// All descendants of pid, from /proc/PID/task/*/children.
    static func descendants(of pid: pid_t) -> [pid_t] {
        var result: [pid_t] = []
        var queue = [pid]
        while let next = queue.popLast() {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(next)/task")) ?? []
            for task in tasks {
                let text = (try? String(contentsOfFile: "/proc/\(next)/task/\(task)/children", encoding: .utf8)) ?? ""
                let children = text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                result += children
                queue += children
            }
        }
        return result
    }

    /// True while the process exists and is not a zombie.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }
}
