import Foundation

/// A minimal HTTP/1.1 client over a plain loopback socket: tests talk to servers they
/// started on 127.0.0.1 and nowhere else.
enum LoopbackHTTP {
    struct Response {
        var status: Int
        var body: String
    }

    /// A port that was free a moment ago (bind to 0, read it back, close).
    static func freePort() -> UInt16 {
        let listener = try! LoopbackListener()
        return listener.port
    }

    static func connect(port: UInt16) -> Int32? {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { close(s); return nil }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return s
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    static func readAll(_ fd: Int32) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// One request with `Connection: close`; nil when the connection failed or closed
    /// without a response.
    static func request(port: UInt16, method: String = "GET", path: String, body: String? = nil) -> Response? {
        guard let fd = connect(port: port) else { return nil }
        defer { close(fd) }
        let payload = Array((body ?? "").utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if body != nil { head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        head += "\r\n"
        guard sendAll(fd, Array(head.utf8) + payload) else { return nil }
        let text = String(decoding: readAll(fd), as: UTF8.self)
        guard let statusLine = text.split(separator: "\r\n").first,
              let code = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }),
              let split = text.range(of: "\r\n\r\n") else { return nil }
        return Response(status: code, body: String(text[split.upperBound...]))
    }

    /// Polls GET path until it answers 200 (servers take a moment to load a model).
    static func waitUntilReady(port: UInt16, path: String = "/health", seconds: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if request(port: port, path: path)?.status == 200 { return true }
            usleep(100_000)
        }
        return false
    }
}
