import Foundation

/// Why a wait or an exchange ended without what the test needed; thrown, so the test
/// fails with this sentence instead of crashing the test process or hanging.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The moment a wait gives up.
struct Deadline {
    let seconds: Double
    private let end: Date

    init(seconds: Double) {
        self.seconds = seconds
        end = Date().addingTimeInterval(seconds)
    }

    var hasPassed: Bool { Date() >= end }

    /// What is left, for poll(2).
    var millisecondsLeft: Int32 {
        Int32(min(Double(Int32.max), max(0, end.timeIntervalSinceNow * 1000)).rounded(.up))
    }

    /// Checks `condition` every 10 ms until it holds; throws, naming `what`, once the
    /// deadline has passed.
    func poll(for what: @autoclosure () -> String, _ condition: () throws -> Bool) throws {
        while true {
            if try condition() { return }
            if hasPassed { throw TestFailure("waited \(seconds) s for \(what())") }
            usleep(10_000)
        }
    }
}

/// The two loopback addresses tests use; never any other.
enum LoopbackAddress: String, Sendable, CustomStringConvertible {
    case v4 = "127.0.0.1"
    case v6 = "::1"

    var description: String { rawValue }
    /// As lpa-run's -p spells a host address.
    var publishSpelling: String { self == .v6 ? "[::1]" : rawValue }

    /// Calls `body` with a socket address for PORT on this loopback address.
    func withSocketAddress<T>(port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        switch self {
        case .v4:
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            addr.sin_port = port.bigEndian
            return withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6:
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_addr = in6addr_loopback
            addr.sin6_port = port.bigEndian
            return withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    var family: Int32 { self == .v6 ? AF_INET6 : AF_INET }
}

/// errno as "ECONNREFUSED (Connection refused)" for failure messages.
func describeErrno(_ code: Int32) -> String {
    let names: [Int32: String] = [
        ECONNREFUSED: "ECONNREFUSED", ECONNRESET: "ECONNRESET", EPIPE: "EPIPE", EADDRINUSE: "EADDRINUSE",
        ETIMEDOUT: "ETIMEDOUT", EAGAIN: "EAGAIN", EINPROGRESS: "EINPROGRESS", ENOENT: "ENOENT",
    ]
    return "\(names[code] ?? "errno \(code)") (\(String(cString: strerror(code))))"
}

/// A minimal TCP and HTTP/1.1 client over plain loopback sockets: tests talk to
/// servers they started on 127.0.0.1 or ::1 and nowhere else. Every read has a
/// deadline and tells end of stream (read returned 0) apart from running out of time.
enum LoopbackHTTP {
    struct Response {
        var status: Int
        var body: String
    }

    /// A port nothing listened on a moment ago: only a guess, since another test may
    /// take it before it is used. `PublishedSandbox` and `HostServer` start again on a
    /// new guess when the port turned out to be taken.
    static func candidatePort(_ address: LoopbackAddress = .v4) throws -> UInt16 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(describeErrno(errno))") }
        defer { close(fd) }
        let bound = address.withSocketAddress(port: 0) { bind(fd, $0, $1) }
        guard bound == 0 else { throw TestFailure("bind \(address) port 0: \(describeErrno(errno))") }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        // The port sits at the same offset in sockaddr_in and sockaddr_in6.
        let port = withUnsafeBytes(of: storage) { $0.load(fromByteOffset: 2, as: UInt16.self) }
        return UInt16(bigEndian: port)
    }

    /// A connected socket, or the errno the connect failed with.
    static func attemptConnect(port: UInt16, address: LoopbackAddress = .v4) -> Result<Int32, POSIXError> {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)) }
        var rc: Int32
        repeat { rc = address.withSocketAddress(port: port) { Glibc.connect(fd, $0, $1) } } while rc != 0 && errno == EINTR
        if rc != 0 {
            let code = errno
            close(fd)
            return .failure(POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO))
        }
        return .success(fd)
    }

    /// A connected socket; throws naming the port and errno when the connect fails.
    static func connect(port: UInt16, address: LoopbackAddress = .v4) throws -> Int32 {
        switch attemptConnect(port: port, address: address) {
        case .success(let fd): return fd
        case .failure(let error):
            throw TestFailure("connect to \(address) port \(port): \(describeErrno(error.code.rawValue))")
        }
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw TestFailure("send: \(describeErrno(errno)) after \(offset) of \(bytes.count) bytes") }
            offset += n
        }
    }

    /// Everything the peer sends until it closes its side (read returns 0). Throws,
    /// naming `what`, when the deadline passes first or the read fails (a reset):
    /// running out of time is never taken for end of stream.
    /// With `resetEnds`, a reset counts as the end too (a connection refused inside).
    static func readToEOF(_ fd: Int32, before deadline: Deadline, waitingFor what: String,
                          resetEnds: Bool = false) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, deadline.millisecondsLeft)
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 { throw TestFailure("poll while waiting for \(what): \(describeErrno(errno))") }
            if ready == 0 {
                throw TestFailure("no end of stream within \(deadline.seconds) s waiting for \(what) (\(result.count) bytes read)")
            }
            let n = recv(fd, &chunk, chunk.count, Int32(MSG_DONTWAIT))
            if n == 0 { return result }
            if n < 0 {
                let code = errno
                if code == EINTR || code == EAGAIN { continue }
                if code == ECONNRESET && resetEnds { return result }
                throw TestFailure("read failed waiting for \(what): \(describeErrno(code)) after \(result.count) bytes")
            }
            result.append(contentsOf: chunk[0..<n])
        }
    }

    /// Exactly `count` bytes; throws, naming `what`, when the deadline passes, the
    /// peer closes or the read fails first.
    static func read(_ fd: Int32, count: Int, before deadline: Deadline, waitingFor what: String) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while result.count < count {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, deadline.millisecondsLeft)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 {
                throw TestFailure("\(what): \(result.count) of \(count) bytes within \(deadline.seconds) s")
            }
            let n = recv(fd, &chunk, min(chunk.count, count - result.count), Int32(MSG_DONTWAIT))
            if n == 0 { throw TestFailure("\(what): end of stream after \(result.count) of \(count) bytes") }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw TestFailure("\(what): \(describeErrno(errno)) after \(result.count) of \(count) bytes")
            }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Sends `payload`, half-closes, and returns what came back until the peer closed.
    static func roundTrip(port: UInt16, address: LoopbackAddress = .v4, _ payload: [UInt8],
                          before deadline: Deadline) throws -> [UInt8] {
        let fd = try connect(port: port, address: address)
        defer { close(fd) }
        try sendAll(fd, payload)
        shutdown(fd, Int32(SHUT_WR))
        return try readToEOF(fd, before: deadline, waitingFor: "the echo from \(address) port \(port)")
    }

    /// One request with `Connection: close`, answered within `seconds`.
    static func request(port: UInt16, method: String = "GET", path: String, body: String? = nil,
                        within seconds: Double = 60) throws -> Response {
        let what = "\(method) \(path) on port \(port)"
        let fd = try connect(port: port)
        defer { close(fd) }
        let payload = Array((body ?? "").utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if body != nil { head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        head += "\r\n"
        try sendAll(fd, Array(head.utf8) + payload)
        let text = String(decoding: try readToEOF(fd, before: Deadline(seconds: seconds), waitingFor: "the answer to \(what)"),
                          as: UTF8.self)
        guard let statusLine = text.split(separator: "\r\n").first,
              let code = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }),
              let split = text.range(of: "\r\n\r\n") else {
            throw TestFailure("\(what): not an HTTP response: \(text.prefix(200))")
        }
        return Response(status: code, body: String(text[split.upperBound...]))
    }

    /// Polls GET `path` until it answers 200 (servers take a moment to load a model).
    /// Throws when `stillRunning` turns false (the server died) or the deadline passes.
    static func waitUntilReady(port: UInt16, path: String = "/health", within seconds: Double = 120,
                               server: String, stillRunning: () -> Bool) throws {
        let deadline = Deadline(seconds: seconds)
        var last = "no answer yet"
        try deadline.poll(for: "\(server) to answer GET \(path) with 200 on port \(port); last: \(last)") {
            guard stillRunning() else { throw TestFailure("\(server) exited while waiting for GET \(path) on port \(port)") }
            do {
                let response = try request(port: port, path: path, within: min(10, max(1, Double(deadline.millisecondsLeft) / 1000)))
                last = "\(response.status) \(response.body.prefix(100))"
                return response.status == 200
            } catch {
                last = "\(error)"
                return false
            }
        }
    }
}
