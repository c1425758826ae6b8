#if canImport(Glibc)
import Glibc
#endif
import CSupervisor
import LPAPolicy

/// The network concern. In `none` mode the sandbox gets a fresh network namespace whose
/// only interface, loopback, the init brings up (window.c `loopback_up`): no route
/// leads anywhere, so nothing inside can phone home. Published ports and host endpoints
/// add no interface: lpa-run relays connections itself (relay.c), and the init makes
/// the sockets that must live in the sandbox's namespace.
///
/// Unix sockets (docs/plan.md, "Unix-socket endpoints"): a published one is a host
/// listener this class creates safely (`UnixSocketFile`) and removes at exit; a
/// connected one is opened once here (O_PATH) and reached through /proc/self/fd/N, so
/// the relay always talks to the socket the caller named when the run started.
final class NetworkSetup {
    let newNamespace: Bool
    /// Host listeners, one per published port: bound before clone, so a port in use
    /// stops the run before anything starts.
    private(set) var publishFds: [Int32] = []
    let publishSandboxPorts: [UInt16]
    private(set) var connectTargets: [sockaddr_storage] = []
    /// TCP endpoints first, then unix ones (port 0): the order of `connectSandboxPaths`,
    /// `connectTargets` and the listeners the init sends.
    let connectSandboxPorts: [UInt16]
    /// nil for a TCP endpoint; the path inside for a unix-socket one.
    let connectSandboxPaths: [String?]
    /// O_PATH descriptors of the host sockets of unix-socket endpoints, held open for
    /// the run: the relay connects to "/proc/self/fd/N".
    private var pinnedSockets: [Int32] = []
    /// Published unix sockets lpa-run created, removed at exit if still theirs.
    private var createdSockets: [UnixSocketFile] = []
    /// The control socket pair (launcher end, init end), when any relay is planned.
    private(set) var control: (launcher: Int32, sandbox: Int32)?

    var hasRelays: Bool { control != nil }
    /// `network: dns: sink`: the init binds 127.0.0.1:53 inside and the event loop answers
    /// (DNSRecorder, dns.c). It needs the control socket, like the relays.
    let dnsSink: Bool

    /// The relay's limits (`network: max-connections / idle-timeout`), for relay.c.
    let maxConnections: Int
    let idleTimeoutMilliseconds: UInt64

    init(plan: IsolationPlan) throws(LaunchError) {
        let wantsNetNamespace = plan.namespaces.contains(.net)
        if plan.network.mode == .none && !wantsNetNamespace {
            throw LaunchError(step: "network", message: "network mode `none` needs the `net` namespace",
                              hint: "add `net` to `namespaces`, or choose `network: {mode: host}` explicitly")
        }
        newNamespace = wantsNetNamespace
        maxConnections = plan.network.maxConnections
        idleTimeoutMilliseconds = plan.network.idleTimeoutMilliseconds
        publishSandboxPorts = plan.network.publish.map(\.sandboxPort) + plan.network.publishSockets.map(\.sandboxPort)
        connectSandboxPorts = plan.network.connect.map(\.sandboxPort) + plan.network.connectSockets.map { _ in 0 }
        connectSandboxPaths = plan.network.connect.map { _ in nil } + plan.network.connectSockets.map(\.sandboxPath)
        dnsSink = plan.network.dns == .sink && plan.network.mode == .none && wantsNetNamespace
        guard plan.network.hasRelays || dnsSink else { return }
        guard wantsNetNamespace else {
            throw LaunchError(step: "network", message: "published ports and host endpoints need the `net` namespace")
        }
        do throws(LaunchError) {
            for port in plan.network.publish {
                publishFds.append(try Self.listen(on: port))
            }
            for socket in plan.network.publishSockets {
                let (fd, file) = try UnixSocketFile.create(socket.hostPath)
                publishFds.append(fd)
                createdSockets.append(file)
            }
            for endpoint in plan.network.connect {
                connectTargets.append(Self.address(endpoint.hostAddress, endpoint.hostPort))
            }
            for endpoint in plan.network.connectSockets {
                let pinned = try UnixSocketFile.pin(endpoint.hostPath)
                pinnedSockets.append(pinned)
                connectTargets.append(UnixSocketFile.address("/proc/self/fd/\(pinned)"))
            }
            var pair: [Int32] = [-1, -1]
            try sys("network: control socket") {
                socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair)
            }
            control = (pair[0], pair[1])
        } catch {
            closeAll()
            throw error
        }
    }

    /// After clone the launcher no longer needs the init's end.
    func closeSandboxEnd() {
        if let control, control.sandbox >= 0 {
            close(control.sandbox)
            self.control = (control.launcher, -1)
        }
    }

    func closeAll() {
        publishFds.forEach { close($0) }
        publishFds = []
        pinnedSockets.forEach { close($0) }
        pinnedSockets = []
        // Only what this run created, and only while it is still that socket.
        createdSockets.forEach { $0.remove() }
        createdSockets = []
        if let control {
            close(control.launcher)
            if control.sandbox >= 0 { close(control.sandbox) }
        }
        control = nil
    }

    deinit { closeAll() }

    private static func listen(on port: PublishedPort) throws(LaunchError) -> Int32 {
        let step = "publish \(port.hostAddress):\(port.hostPort)"
        var address = address(port.hostAddress, port.hostPort)
        let fd = try sys(step) { socket(Int32(address.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let length = socklen_t(address.ss_family == sa_family_t(AF_INET6)
            ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        if bound != 0 {
            let err = errno
            close(fd)
            throw LaunchError(step: step, errno: err, message: "cannot listen on the host",
                              hint: err == EADDRINUSE ? "another program uses port \(port.hostPort); choose another HOST_PORT" : nil)
        }
        if Glibc.listen(fd, 512) != 0 {
            let err = errno
            close(fd)
            throw LaunchError(step: step, errno: err, message: "cannot listen on the host")
        }
        return fd
    }

    /// The socket address of a plan address: bytes copied, no text parsed.
    static func address(_ host: IPAddress, _ port: UInt16) -> sockaddr_storage {
        var storage = sockaddr_storage()
        if host.isIPv6 {
            var v6 = sockaddr_in6()
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &v6.sin6_addr) { $0.copyBytes(from: host.bytes) }
            withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: v6) { raw.copyMemory(from: $0) } }
        } else {
            var v4 = sockaddr_in()
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &v4.sin_addr) { $0.copyBytes(from: host.bytes) }
            withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: v4) { raw.copyMemory(from: $0) } }
        }
        return storage
    }
}
