#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One `publish` entry: a TCP port, or a host unix socket (`unix:HOST_PATH:SANDBOX_PORT`).
enum PublishSpec: Equatable, Sendable {
    case port(PublishedPort)
    case socket(PublishedSocket)

    /// Two entries with one key cannot both work: merging profiles keeps the first (ListMerge).
    var mergeKey: String {
        switch self {
        case .port(let p): "\(p.hostAddress):\(p.hostPort)"
        case .socket(let s): "unix:\(s.hostPath)"
        }
    }
}

/// One `connect` entry: a host loopback TCP port, or a host unix socket
/// (`unix:HOST_PATH[:SANDBOX_PATH]`).
enum ConnectSpec: Equatable, Sendable {
    case port(HostEndpoint)
    case socket(SocketEndpoint)

    var mergeKey: String {
        switch self {
        case .port(let e): "\(e.sandboxPort)"
        case .socket(let s): "unix:\(s.sandboxPath)"
        }
    }
}

/// Parses `--publish`/`network.publish` and `--connect`/`network.connect` values.
enum EndpointParser {
    static let unixPrefix = "unix:"
    /// sun_path holds 108 bytes with its NUL: the sandbox-side path is bound by name.
    static let sandboxSocketPathMax = 107

    static func publishSpec(_ text: String) throws(Failure) -> PublishSpec {
        text.hasPrefix(unixPrefix) ? .socket(try publishSocket(text)) : .port(try publish(text))
    }

    static func connectSpec(_ text: String) throws(Failure) -> ConnectSpec {
        text.hasPrefix(unixPrefix) ? .socket(try connectSocket(text)) : .port(try connect(text))
    }

    /// `unix:HOST_PATH:SANDBOX_PORT`: the port follows the last ':'.
    static func publishSocket(_ text: String) throws(Failure) -> PublishedSocket {
        let body = text.dropFirst(unixPrefix.count)
        guard let colon = body.lastIndex(of: ":") else {
            throw Failure(message: "bad publish '\(text)': expected unix:HOST_PATH:SANDBOX_PORT",
                          hint: "for example -p unix:/run/user/1000/llama.sock:8080")
        }
        let path = try socketPath(String(body[..<colon]), in: text, role: "host")
        return PublishedSocket(hostPath: path, sandboxPort: try port(String(body[body.index(after: colon)...]), in: text))
    }

    /// `unix:HOST_PATH[:SANDBOX_PATH]`: SANDBOX_PATH is absolute, so it starts at the
    /// first ":/" (a host path may hold ':' but not ":/"). It defaults to HOST_PATH.
    static func connectSocket(_ text: String) throws(Failure) -> SocketEndpoint {
        let body = String(text.dropFirst(unixPrefix.count))
        let host: String, sandbox: String?
        if let split = body.firstRange(of: ":/") {
            host = String(body[..<split.lowerBound])
            sandbox = String(body[body.index(after: split.lowerBound)...])
        } else {
            host = body
            sandbox = nil
        }
        let hostPath = try socketPath(host, in: text, role: "host")
        let sandboxPath = try sandbox.map { path throws(Failure) in try socketPath(path, in: text, role: "sandbox") } ?? hostPath
        guard sandboxPath.utf8.count <= sandboxSocketPathMax else {
            throw Failure(message: "sandbox socket path '\(sandboxPath)' in '\(text)' is longer than \(sandboxSocketPathMax) bytes",
                          hint: "name a shorter SANDBOX_PATH: unix:HOST_PATH:/run/NAME.sock")
        }
        return SocketEndpoint(hostPath: hostPath, sandboxPath: sandboxPath)
    }

    private static func socketPath(_ path: String, in whole: String, role: String) throws(Failure) -> String {
        guard !path.contains("\0") else { throw Failure(message: "bad \(role) path in '\(whole)': it holds a NUL byte") }
        let normalized: String
        do throws(PathNormalizer.Failure) {
            normalized = try PathNormalizer.normalize(path)
        } catch {
            throw Failure(message: "bad \(role) socket path in '\(whole)': \(error.message)",
                          hint: "unix socket paths are absolute: unix:/run/user/1000/app.sock")
        }
        guard normalized != "/" else { throw Failure(message: "bad \(role) socket path in '\(whole)': '/' is a directory") }
        return normalized
    }

    struct Failure: Error, Equatable {
        var message: String
        var hint: String?
    }

    /// `[HOST_IP:]HOST_PORT:SANDBOX_PORT`; HOST_IP defaults to 127.0.0.1 so a
    /// published port is reachable from this machine only unless asked otherwise.
    static func publish(_ text: String) throws(Failure) -> PublishedPort {
        let (host, ports) = try splitHost(text)
        guard ports.count == 2 || (host == nil && ports.count == 3) else {
            throw Failure(message: "bad publish '\(text)': expected [HOST_IP:]HOST_PORT:SANDBOX_PORT")
        }
        let hostText = host ?? (ports.count == 3 ? ports[0] : "127.0.0.1")
        let numbers = ports.suffix(2)
        guard let address = IPAddress(hostText) else {
            throw Failure(message: "bad address '\(hostText)' in publish '\(text)': expected an IPv4 or IPv6 address",
                          hint: "write [::1] for IPv6")
        }
        return PublishedPort(hostAddress: address,
                             hostPort: try port(numbers[numbers.startIndex], in: text),
                             sandboxPort: try port(numbers[numbers.startIndex + 1], in: text))
    }

    /// `HOST:PORT[:SANDBOX_PORT]`; HOST must be loopback: the sandbox may reach
    /// local services, never the network.
    static func connect(_ text: String) throws(Failure) -> HostEndpoint {
        let (host, rest) = try splitHost(text)
        let hostText: String
        let ports: ArraySlice<String>
        if let host {
            hostText = host
            ports = rest[...]
        } else {
            guard let first = rest.first else { throw Failure(message: "bad connect '\(text)'") }
            hostText = first
            ports = rest.dropFirst()
        }
        guard ports.count == 1 || ports.count == 2 else {
            throw Failure(message: "bad connect '\(text)': expected HOST:PORT[:SANDBOX_PORT]")
        }
        guard let address = IPAddress(hostText) else {
            throw Failure(message: "bad address '\(hostText)' in connect '\(text)': expected an IP address",
                          hint: "use 127.0.0.1 (names are not resolved)")
        }
        guard address.isLoopback else {
            throw Failure(message: "connect address '\(hostText)' is not loopback",
                          hint: "the sandbox may only reach this machine's loopback (127.0.0.0/8 or ::1)")
        }
        let hostPort = try port(ports[ports.startIndex], in: text)
        let sandboxPort = ports.count == 2 ? try port(ports[ports.startIndex + 1], in: text) : hostPort
        return HostEndpoint(hostAddress: address, hostPort: hostPort, sandboxPort: sandboxPort)
    }

    /// Splits "[v6]:a:b" or "a:b:c" into an optional bracketed host and the rest.
    private static func splitHost(_ text: String) throws(Failure) -> (String?, [String]) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw Failure(message: "bad address in '\(text)': expected [IPV6]:PORT")
            }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(close, offsetBy: 2)...].split(separator: ":", omittingEmptySubsequences: false)
            return (host, rest.map(String.init))
        }
        return (nil, text.split(separator: ":", omittingEmptySubsequences: false).map(String.init))
    }

    private static func port(_ text: String, in whole: String) throws(Failure) -> UInt16 {
        guard let value = Int(text), (1...65535).contains(value) else {
            throw Failure(message: "bad port '\(text)' in '\(whole)': expected 1-65535")
        }
        return UInt16(value)
    }

    static func isAddress(_ text: String) -> Bool { IPAddress(text) != nil }

    /// See `IPAddress.isLoopback`.
    static func isLoopback(_ text: String) -> Bool { IPAddress(text)?.isLoopback ?? false }
}
