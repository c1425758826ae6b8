import Foundation
import Testing

/// lpa-run's open descriptors. Throws when lpa-run is gone or its descriptor table
/// cannot be read, so a dead lpa-run never passes for one that leaks nothing.
/// (Root, the test process, reads the table of an unprivileged lpa-run too.)
func openDescriptors(of sandbox: PublishedSandbox) throws -> Int {
    let pid = sandbox.pid
    guard sandbox.lpaRun.isRunning, ProcessTree.isAlive(pid) else {
        throw TestFailure("lpa-run (pid \(pid)) is no longer running: \(sandbox.lpaRun.stderr.suffix(800))")
    }
    do {
        return try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
    } catch {
        throw TestFailure("cannot read /proc/\(pid)/fd: \(error)")
    }
}

/// How many more descriptors lpa-run may hold at rest than at the baseline: one batch
/// of the init's sockets (LPA_SOCKET_BATCH_MAX, lpa_control.h). Between connections
/// the relay holds only its pool of unconnected sandbox sockets, refilled a batch at a
/// time when it runs low (relay.c POOL_LOW), and its spare pipes, which never exceed
/// what they were at the baseline: connections made one after another take and give
/// back the same two pairs, and `fillSparePipes` fills the set before a burst. A leak
/// of one descriptor per connection shows as hundreds or thousands.
let descriptorSlack = 32

/// Holds 100 connections open through the relay at once (each has echoed, so each is
/// relayed), then ends them: the relay now keeps its full set of spare pipes
/// (PIPE_SPARE_MAX pairs, relay.c; each connection takes two), so no later burst of
/// connections can add spare pipes above a baseline taken after this.
func fillSparePipes(_ sandbox: PublishedSandbox) throws {
    var sockets: [Int32] = []
    defer { sockets.forEach { close($0) } }
    let deadline = Deadline(seconds: 20)
    let payload = Array("held open".utf8)
    for _ in 0..<100 { sockets.append(try sandbox.connect()) }
    for (i, fd) in sockets.enumerated() {
        try LoopbackHTTP.sendAll(fd, payload)
        _ = try LoopbackHTTP.read(fd, count: payload.count, before: deadline, waitingFor: "the echo on held connection \(i)")
    }
    for fd in sockets { shutdown(fd, Int32(SHUT_WR)) }
    for (i, fd) in sockets.enumerated() {
        _ = try LoopbackHTTP.readToEOF(fd, before: deadline, waitingFor: "end of stream on held connection \(i)")
    }
}

/// Closes with a reset instead of a FIN (SO_LINGER 0), as a client that gives up does.
func resetAndClose(_ fd: Int32) {
    var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    close(fd)
}

/// The relay itself: concurrency, half-close, descriptors, early and abandoned connections.
@Suite("relay", .serialized)
struct RelayTests {
    @Test("256 concurrent connections each echo their bytes back, then end of stream, after a half-close",
          arguments: Runner.all)
    func concurrentHalfClosedConnections(runner: Runner) throws {
        let sandbox = try PublishedSandbox(runner: runner, probe: ["echo-server", "9000"], sandboxPort: 9000, ready: "listening")
        defer { sandbox.terminate() }
        var sockets: [(Int32, [UInt8])] = []
        defer { sockets.forEach { close($0.0) } }
        for i in 0..<256 {
            let fd = try sandbox.connect()
            sockets.append((fd, Array("connection \(i) ".utf8) + [UInt8](repeating: UInt8(i & 0xff), count: 4096)))
        }
        for (fd, payload) in sockets {
            try LoopbackHTTP.sendAll(fd, payload)
            shutdown(fd, Int32(SHUT_WR))
        }
        // The echo server answers EOF only after it saw ours: the end of stream arrives
        // only if the relay forwarded each half-close both ways.
        let deadline = Deadline(seconds: 20)
        var failures: [String] = []
        for (i, (fd, payload)) in sockets.enumerated() {
            do {
                let echoed = try LoopbackHTTP.readToEOF(fd, before: deadline, waitingFor: "end of stream on connection \(i)")
                if echoed != payload { failures.append("connection \(i): \(echoed.count) of \(payload.count) bytes") }
            } catch {
                failures.append("\(error)")
            }
        }
        if let first = failures.first { Issue.record("\(failures.count) of 256 connections failed; first: \(first)") }
    }

    @Test("no descriptor leaks after 2000 connections; lpa-run still serving", arguments: Runner.all)
    func noDescriptorLeak(runner: Runner) throws {
        let sandbox = try PublishedSandbox(runner: runner, probe: ["echo-server", "9000"], sandboxPort: 9000, ready: "listening")
        defer { sandbox.terminate() }
        try sandbox.expectEcho("warm-up")
        let before = try openDescriptors(of: sandbox)
        for i in 1...2000 { try sandbox.expectEcho("connection \(i)") }
        var after = 0
        try Deadline(seconds: 10).poll(for: "lpa-run's descriptors to return within \(before) + \(descriptorSlack) after 2000 connections (now \(after))") {
            after = try openDescriptors(of: sandbox)
            return after <= before + descriptorSlack
        }
        try sandbox.expectEcho("after the leak check")
    }

    @Test("clients that close before the server answers leave no descriptor behind; lpa-run still serving",
          arguments: Runner.all)
    func clientClosingEarly(runner: Runner) throws {
        let sandbox = try PublishedSandbox(runner: runner, probe: ["echo-server", "9000"], sandboxPort: 9000, ready: "listening")
        defer { sandbox.terminate() }
        try fillSparePipes(sandbox)
        let before = try openDescriptors(of: sandbox)
        let request = [UInt8](repeating: 0x41, count: 256 << 10)
        for i in 0..<1200 {
            let fd = try sandbox.connect()
            switch i % 3 {
            case 0: close(fd)           // gone before the relay reached the server: a FIN
            case 1: resetAndClose(fd)   // gone with a reset, nothing sent
            default:                    // a request, then a reset while the echo is under way
                try LoopbackHTTP.sendAll(fd, request)
                resetAndClose(fd)
            }
        }
        var after = 0
        try Deadline(seconds: 10).poll(for: "lpa-run's descriptors to return within \(before) + \(descriptorSlack) after 1200 abandoned connections (now \(after))") {
            after = try openDescriptors(of: sandbox)
            return after <= before + descriptorSlack
        }
        try sandbox.expectEcho("after the abandoned connections")
    }

    @Test("connections that arrive before the server listens inside are closed at once, not hung, and leave nothing behind",
          arguments: Runner.all)
    func earlyConnectionClosedCleanly(runner: Runner) throws {
        let sandbox = try PublishedSandbox(runner: runner, probe: ["wait-signal"], sandboxPort: 9000, ready: "ready")
        defer { sandbox.terminate() }
        // lpa-run accepts each (its host listener exists), finds nothing listening
        // inside, and closes it: end of stream (or a reset) within the deadline.
        func expectClosed(_ i: Int) throws {
            let fd = try sandbox.connect()
            defer { close(fd) }
            let bytes = try LoopbackHTTP.readToEOF(fd, before: Deadline(seconds: 3), waitingFor: "early connection \(i) to close",
                                                   resetEnds: true)
            if !bytes.isEmpty { throw TestFailure("early connection \(i) received \(bytes.count) bytes") }
        }
        try expectClosed(0)
        let before = try openDescriptors(of: sandbox)
        for i in 1...200 { try expectClosed(i) }
        var after = 0
        try Deadline(seconds: 10).poll(for: "lpa-run's descriptors to return within \(before) + \(descriptorSlack) after 200 early connections (now \(after))") {
            after = try openDescriptors(of: sandbox)
            return after <= before + descriptorSlack
        }
    }
}

/// -p on the host side: binding, addresses, refusals, lifetime, and no egress.
@Suite("published ports", .serialized)
struct PublishedPortTests {
    @Test("a host port already in use stops the run with 125, naming the port, before the workload runs",
          arguments: Runner.all)
    func hostPortInUse(runner: Runner) throws {
        let holder = try LoopbackListener()
        #expect(holder.canConnectFromHost(), "the port is really taken")
        let result = try runner.run(["--profile", "strict", "-p", "127.0.0.1:\(holder.port):80", "/bin/echo", "RAN"],
                                    within: 30)
        #expect(result.status == 125)
        #expect(result.stderr.contains("127.0.0.1:\(holder.port)"), "\(result.stderr)")
        #expect(result.stderr.contains("EADDRINUSE"), "\(result.stderr)")
        #expect(!result.stdout.contains("RAN"))
    }

    @Test("a sandbox whose host port was taken meanwhile starts again on another one (how these tests avoid port races)",
          arguments: Runner.all)
    func takenPortIsRetried(runner: Runner) throws {
        let holder = try LoopbackListener()
        var offered: [UInt16] = []
        let sandbox = try PublishedSandbox(runner: runner, ready: .line("listening"), nextPort: {
            let port = offered.isEmpty ? holder.port : try LoopbackHTTP.candidatePort()
            offered.append(port)
            return port
        }) { port in
            ["--profile", "strict", "-p", "127.0.0.1:\(port):9000", Binaries.shared.probe, "echo-server", "9000"]
        }
        defer { sandbox.terminate() }
        #expect(offered.count == 2 && offered.first == holder.port, "\(offered)")
        #expect(sandbox.port == offered.last)
        try sandbox.expectEcho("on the second port")
    }

    @Test("-p [::1]:PORT:SANDBOXPORT relays IPv6 clients to the sandbox", arguments: Runner.all)
    func ipv6LoopbackPublish(runner: Runner) throws {
        let sandbox = try PublishedSandbox(runner: runner, address: .v6, probe: ["echo-server", "9000"], sandboxPort: 9000,
                                           ready: "listening")
        defer { sandbox.terminate() }
        try sandbox.expectEcho("over ::1")
    }

    @Test("with -p serving, the same sandbox still cannot reach a listener on the host's loopback", arguments: Runner.all)
    func publishedSandboxHasNoEgress(runner: Runner) throws {
        let listener = try LoopbackListener()
        #expect(listener.canConnectFromHost(), "the target listens on the host")
        let sandbox = try PublishedSandbox(runner: runner, ready: .line("listening")) { port in
            ["--profile", probeVisibleProfile(), "-p", "127.0.0.1:\(port):9000", "/bin/sh", "-c",
             #""$1" echo-server 9000 & "$1" connect-tcp 127.0.0.1 "$2"; wait"#, "sh", Binaries.shared.probe, String(listener.port)]
        }
        defer { sandbox.terminate() }
        // -p is live in this very sandbox.
        try sandbox.expectEcho("through -p")
        let attempt = try sandbox.lpaRun.waitForLine("the connect-tcp result", before: Deadline(seconds: 10)) {
            $0.hasPrefix("connect-tcp ")
        }
        #expect(attempt == "connect-tcp ECONNREFUSED")
    }

    @Test("when the workload exits, lpa-run exits with its status and the port closes", arguments: Runner.all)
    func workloadExitClosesListeners(runner: Runner) throws {
        let sandbox = try PublishedSandbox(runner: runner, ready: .line("listening")) { port in
            ["--profile", probeVisibleProfile(), "-p", "127.0.0.1:\(port):9000", "/bin/sh", "-c",
             #"trap "exit 7" TERM; "$1" echo-server 9000 & wait"#, "sh", Binaries.shared.probe]
        }
        defer { sandbox.terminate() }
        // The port was live before the exit.
        try sandbox.expectEcho("before the exit")
        // SIGTERM reaches the shell through lpa-run and the init; the shell exits 7.
        #expect(try sandbox.stop(within: 10) == 7)
        switch LoopbackHTTP.attemptConnect(port: sandbox.port) {
        case .success(let fd):
            close(fd)
            Issue.record("port \(sandbox.port) still accepts connections after lpa-run exited")
        case .failure(let error):
            #expect(error.code == .ECONNREFUSED)
        }
    }

    @Test("a non-loopback host address is refused without --allow-non-loopback-publish")
    func nonLoopbackPublishRefused() throws {
        let runner = Runner(who: .caller)
        let refused = try runner.run(["--dry-run", "-p", "0.0.0.0:18099:80", "/bin/true"], within: 30)
        #expect(refused.status == 125)
        #expect(refused.stderr.contains("--allow-non-loopback-publish"), "\(refused.stderr)")
        let allowed = try runner.run(["--dry-run", "--allow-non-loopback-publish", "-p", "0.0.0.0:18099:80", "/bin/true"],
                                     within: 30)
        #expect(allowed.status == 0, "\(allowed.stderr)")
    }
}

/// The congestion control the relay's own sockets use on loopback (relay.c
/// loopback_congestion): reno, whatever the host's default is, because a pacing default
/// (bbr) throttles every relayed byte on a path that has nothing to probe. Each check
/// sets a socket lpa-run made against one it did not; on a host whose default is reno
/// itself the two cannot differ (this machine's default is bbr).
@Suite("relay congestion control", .serialized)
struct RelayCongestionTests {
    /// The algorithm of each established TCP socket `filter` selects, from the kernel's
    /// socket diagnostics (ss(8), iproute2): one name per socket.
    /// `inNetworkOf`: a process of a sandbox, to look in its network namespace (a helper
    /// joins its user and network namespaces, then runs ss there).
    static func congestion(_ filter: String, inNetworkOf pid: pid_t? = nil) throws -> [String] {
        let ss = ["/usr/bin/ss", "-tinH", "state", "established", filter]
        let argv = pid.map { ["/usr/bin/python3", "-c", Self.joinNamespaces, "/proc/\($0)/ns"] + ss } ?? ss
        let result = try Spawned(argv, environment: [:], cwd: "/").finish(seconds: 10)
        guard result.status == 0 else { throw TestFailure("ss \(filter) exited \(result.status): \(result.stderr)") }
        // Each socket: an address line, then a tab-indented info line: option flags ("ts",
        // "sack", … when on), the algorithm, then "name:value" fields ("wscale:…").
        return result.stdout.split(separator: "\n").filter { $0.hasPrefix("\t") }.compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return words.prefix(while: { !$0.contains(":") }).last.map(String.init)
        }
    }

    static let joinNamespaces = """
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        ns = sys.argv[1]
        def join(kind, flag):
            fd = os.open(f"{ns}/{kind}", os.O_RDONLY)
            if libc.setns(fd, flag) != 0:
                sys.exit(f"setns {kind}: {os.strerror(ctypes.get_errno())}")
        if os.stat(f"{ns}/user").st_ino != os.stat("/proc/self/ns/user").st_ino:
            join("user", 0x10000000)
        join("net", 0x40000000)
        os.execv(sys.argv[2], sys.argv[2:])
        """

    /// The default of the sandbox's network namespace (copied from the host's first one
    /// when it was made), read there.
    static func sandboxDefault(_ pid: pid_t) throws -> String {
        let argv = ["/usr/bin/python3", "-c", Self.joinNamespaces, "/proc/\(pid)/ns",
                    "/bin/cat", "/proc/sys/net/ipv4/tcp_congestion_control"]
        let result = try Spawned(argv, environment: [:], cwd: "/").finish(seconds: 10)
        guard result.status == 0 else { throw TestFailure("reading the sandbox's default: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Inside the sandbox under `lpaRun`: the relay's socket (ss filter `relay`) uses reno,
    /// the workload's own (`workload`) the sandbox's default.
    static func expectInside(_ lpaRun: pid_t, relay: String, workload: String) throws {
        guard let inside = ProcessTree.descendants(of: lpaRun).last else {
            throw TestFailure("no process under lpa-run \(lpaRun)")
        }
        let relaySide = try congestion(relay, inNetworkOf: inside)
        #expect(relaySide == ["reno"], "relay's socket inside: \(relaySide)")
        let workloadSide = try congestion(workload, inNetworkOf: inside)
        #expect(workloadSide == [try sandboxDefault(inside)], "workload's socket inside: \(workloadSide)")
    }

    /// The host's default, as a plain socket gets it.
    static var hostDefault: String {
        (try? String(contentsOfFile: "/proc/sys/net/ipv4/tcp_congestion_control", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
    }

    /// A connection to the published port, echoed once (so it is relayed), left open.
    static func heldConnection(_ sandbox: PublishedSandbox) throws -> Int32 {
        let fd = try sandbox.connect()
        let payload = Array("congestion".utf8)
        do {
            try LoopbackHTTP.sendAll(fd, payload)
            _ = try LoopbackHTTP.read(fd, count: payload.count, before: Deadline(seconds: 10), waitingFor: "the echo")
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    @Test("a port published on loopback: the relay's sockets on both sides use reno, the client's and the workload's keep the host default",
          arguments: Runner.all)
    func loopbackPublish(runner: Runner) throws {
        let sandbox = try PublishedSandbox(runner: runner, probe: ["echo-server", "9000"], sandboxPort: 9000,
                                           ready: "listening")
        defer { sandbox.terminate() }
        let fd = try Self.heldConnection(sandbox)
        defer { close(fd) }
        let relay = try Self.congestion("( sport = :\(sandbox.port) )")
        #expect(relay == ["reno"], "relay side: \(relay)")
        // The test can tell: a socket lpa-run did not make keeps the host's choice.
        let client = try Self.congestion("( dport = :\(sandbox.port) )")
        #expect(client == [Self.hostDefault], "client side: \(client)")
        // Inside: the relay's socket to the workload (from the pool the init made) uses
        // reno; the workload's own accepted socket keeps the default.
        try Self.expectInside(sandbox.pid, relay: "( dport = :9000 )", workload: "( sport = :9000 )")
    }

    @Test("a port published on a wildcard address: a loopback client's relayed socket uses reno",
          arguments: Runner.all)
    func wildcardPublishLoopbackClient(runner: Runner) throws {
        let sandbox = try PublishedSandbox(runner: runner, ready: .line("listening")) { port in
            ["--profile", probeVisibleProfile(), "--allow-non-loopback-publish", "-p", "0.0.0.0:\(port):9000",
             Binaries.shared.probe, "echo-server", "9000"]
        }
        defer { sandbox.terminate() }
        let fd = try Self.heldConnection(sandbox)
        defer { close(fd) }
        let relay = try Self.congestion("( sport = :\(sandbox.port) )")
        #expect(relay == ["reno"], "relay side: \(relay)")
    }

    @Test("a host endpoint on loopback: the relay's connection to it uses reno", arguments: Runner.all)
    func loopbackEndpoint(runner: Runner) throws {
        // Never accepts: the kernel completes the handshake from the backlog, which is all
        // ss needs to see the relay's socket established.
        let host = try LoopbackListener()
        let script = """
            import socket, time
            s = socket.create_connection(("127.0.0.1", 8080))
            print("connected", flush=True)
            time.sleep(30)
            """
        let child = try Spawned(runner.command(["--connect", "127.0.0.1:\(host.port):8080", "/usr/bin/python3", "-c", script]),
                                environment: runner.environment(), cwd: "/")
        defer {
            kill(child.pid, SIGTERM)
            _ = child.finish(seconds: 30)
        }
        #expect(child.waitForLine("connected", seconds: 20))
        var relay: [String] = []
        let deadline = Date().addingTimeInterval(5)
        // The relay connects when the workload's connection arrives; give it a moment.
        repeat {
            relay = try Self.congestion("( dport = :\(host.port) )")
            if !relay.isEmpty { break }
            usleep(20_000)
        } while Date() < deadline
        #expect(relay == ["reno"], "relay side: \(relay)")
        // Inside: the relay's listener at 127.0.0.1:8080 gave the socket it accepted for
        // the workload reno; the workload's own socket keeps the default.
        try Self.expectInside(child.pid, relay: "( sport = :8080 )", workload: "( dport = :8080 )")
    }
}
