import Foundation
import Testing

/// Unix-socket endpoints end to end, with real listeners this test starts in its own
/// temporary directories: `--connect unix:HOST[:SANDBOX]` (a host socket reachable at a
/// path on a tmpfs inside, relayed, never bound) and `-p unix:HOST:PORT` (a sandbox port
/// published as a host socket lpa-run creates 0600 and removes at exit).
@Suite("unix-socket endpoints", .serialized)
struct UnixEndpointTests {
    /// A host echo server on a unix socket (python3, which `make deps` installs): reads to
    /// EOF, answers "echo:" + what it read, closes. Mode 0666 so that lpa-run as uid
    /// 65534 may connect.
    static let echoScript = """
        import os, socket, sys
        path = sys.argv[1]
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        os.chmod(path, 0o666)
        s.listen(16)
        print("ready", flush=True)
        while True:
            c, _ = s.accept()
            data = b""
            while True:
                b = c.recv(65536)
                if not b:
                    break
                data += b
            c.sendall(b"echo:" + data)
            c.close()
        """

    /// Run inside: connects to argv[1], sends argv[2] bytes, half-closes, reads to EOF;
    /// prints whether the path is a socket and how many bytes came back.
    static let clientScript = """
        import os, socket, stat, sys
        path, size = sys.argv[1], int(sys.argv[2])
        print("is-socket", stat.S_ISSOCK(os.stat(path).st_mode))
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        c.sendall(b"z" * size)
        c.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        print("received", len(data), data[:5].decode())
        """

    /// A fresh directory under the scratch area (never bound into sandboxes), owned by
    /// the runner's uid and only theirs.
    static func directory(for runner: Runner, _ name: String) throws -> TestDirectory {
        try TestDirectory(under: Binaries.shared.scratch, owner: runner.callerUid, mode: 0o700)
    }

    /// Connects from the host, sends `size` bytes, half-closes, reads to EOF.
    static func roundTrip(_ path: String, size: Int, within seconds: Double = 20) throws -> [UInt8] {
        try exchange(path, [UInt8](repeating: 0x7a, count: size), halfClose: true, within: seconds)
    }

    /// Connects from the host, sends `payload` (then half-closes if asked), reads to EOF.
    static func exchange(_ path: String, _ payload: [UInt8], halfClose: Bool, within seconds: Double = 20) throws -> [UInt8] {
        let size = payload.count
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(describeErrno(errno))") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw TestFailure("connect \(path): \(describeErrno(errno))") }
        var sent = 0
        while sent < size {
            let n = payload[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("send: \(describeErrno(errno))") }
            sent += n
        }
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n == 0 { break }
            guard n > 0 else { throw TestFailure("recv after \(received.count) bytes: \(describeErrno(errno))") }
            received += chunk[0..<n]
        }
        return received
    }

    static func python() throws -> String {
        for path in ["/usr/bin/python3", "/bin/python3"] where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw TestFailure("python3 is missing: `make deps` installs it")
    }

    // MARK: --connect unix:

    @Test("--connect unix: the sandbox reaches a host unix socket at a path on its tmpfs, both directions and half-close",
          arguments: Runner.all)
    func connectReachesHostSocket(runner: Runner) throws {
        let dir = try Self.directory(for: runner, "connect")
        defer { dir.remove() }
        chmod(dir.path, 0o711)  // the echo server's socket must be reachable by the runner
        let python = try Self.python()
        let hostSocket = dir.path + "/host.sock"
        let server = try BackgroundProcess([python, "-c", Self.echoScript, hostSocket], name: "echo server")
        defer { server.terminate() }
        try server.waitForLine("ready")

        // An explicit path under /run, whose parent lpa-run makes inside; 300 KiB each way.
        let explicit = try runner.run(["--profile", "strict", "--connect", "unix:\(hostSocket):/run/app/llm.sock",
                                       python, "-c", Self.clientScript, "/run/app/llm.sock", "300000"], within: 60)
        #expect(explicit.status == 0, "\(explicit.stderr)")
        #expect(explicit.stdout.contains("is-socket True"), "\(explicit.stdout)")
        #expect(explicit.stdout.contains("received 300005 echo:"), "\(explicit.stdout) \(explicit.stderr)")
        #expect(explicit.stderr.isEmpty || !explicit.stderr.contains("blocked"), "\(explicit.stderr)")

        // Without SANDBOX_PATH the socket appears at the host path (here under /tmp, a tmpfs
        // in strict): the host directory itself is not bound, only the socket is relayed.
        let same = try runner.run(["--profile", "strict", "--connect", "unix:\(hostSocket)", python, "-c",
                                   Self.clientScript + "\nprint('siblings', sorted(os.listdir(os.path.dirname(path))))",
                                   hostSocket, "10"], within: 60)
        #expect(same.status == 0, "\(same.stderr)")
        #expect(same.stdout.contains("received 15 echo:"), "\(same.stdout) \(same.stderr)")
        #expect(same.stdout.contains("siblings ['host.sock']"), "the host directory leaked in: \(same.stdout)")
    }

    @Test("--connect unix: a host path that is not a socket, or a sandbox path off tmpfs, stops the run",
          arguments: Runner.all)
    func connectRefusals(runner: Runner) throws {
        let dir = try Self.directory(for: runner, "connect-refusals")
        defer { dir.remove() }
        chmod(dir.path, 0o711)
        let file = dir.path + "/not-a-socket"
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        chmod(file, 0o644)
        let notSocket = try runner.run(["--profile", "strict", "--connect", "unix:\(file):/run/a.sock", "/bin/true"],
                                       within: 30)
        #expect(notSocket.status == 125)
        #expect(notSocket.stderr.contains("is not a unix socket"), "\(notSocket.stderr)")
        let missing = try runner.run(["--profile", "strict", "--connect", "unix:\(dir.path)/absent.sock:/run/a.sock",
                                      "/bin/true"], within: 30)
        #expect(missing.status == 125)
        #expect(missing.stderr.contains("ENOENT"), "\(missing.stderr)")
        // /usr is a read-only bind of the host's: a socket there would be the host's.
        let offTmpfs = try runner.run(["--profile", "strict", "--connect", "unix:\(file):/usr/a.sock", "/bin/true"],
                                      within: 30)
        #expect(offTmpfs.status != 0)
        #expect(offTmpfs.stderr.contains("does not lie on a tmpfs"), "\(offTmpfs.stderr)")
    }

    // MARK: -p unix:

    @Test("-p unix: a sandbox port becomes a host socket, mode 0600, round trip with half-close, removed at exit",
          arguments: Runner.all)
    func publishCreatesHostSocket(runner: Runner) throws {
        let dir = try Self.directory(for: runner, "publish")
        defer { dir.remove() }
        let path = dir.path + "/llm.sock"
        let lpaRun = try BackgroundProcess(runner: runner, arguments: [
            "--profile", "strict", "-p", "unix:\(path):7070", Binaries.shared.probe, "echo-server", "7070"])
        defer { lpaRun.terminate() }
        try lpaRun.waitForLine("listening")

        var info = stat()
        #expect(lstat(path, &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFSOCK)
        #expect(info.st_mode & 0o7777 == 0o600, "mode \(String(info.st_mode & 0o7777, radix: 8))")
        #expect(info.st_uid == runner.callerUid)
        // Nothing but the socket was left in the directory (the private one is gone).
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["llm.sock"])

        let echoed = try Self.roundTrip(path, size: 2 << 20)
        #expect(echoed.count == 2 << 20 && echoed.allSatisfy { $0 == 0x7a }, "\(echoed.count) bytes came back")
        let small = try Self.roundTrip(path, size: 1)
        #expect(small == [0x7a])

        kill(lpaRun.pid, SIGTERM)
        _ = try lpaRun.waitForExit("after SIGTERM", within: 30)
        #expect(lstat(path, &info) != 0 && errno == ENOENT, "the socket lpa-run made is left behind")
    }

    @Test("-p unix: at exit only the socket lpa-run made is removed, not what replaced it", arguments: Runner.all)
    func publishRemovesOnlyItsOwnSocket(runner: Runner) throws {
        let dir = try Self.directory(for: runner, "publish-replaced")
        defer { dir.remove() }
        let path = dir.path + "/llm.sock"
        let lpaRun = try BackgroundProcess(runner: runner, arguments: [
            "--profile", "strict", "-p", "unix:\(path):7070", Binaries.shared.probe, "echo-server", "7070"])
        defer { lpaRun.terminate() }
        try lpaRun.waitForLine("listening")
        // Someone moves the socket away and puts a file of theirs at the name.
        #expect(rename(path, dir.path + "/moved.sock") == 0)
        _ = FileManager.default.createFile(atPath: path, contents: Data("mine".utf8))
        kill(lpaRun.pid, SIGTERM)
        _ = try lpaRun.waitForExit("after SIGTERM", within: 30)
        #expect((try? String(contentsOfFile: path, encoding: .utf8)) == "mine", "lpa-run removed a file it did not make")
    }

    @Test("-p unix: refuses a file, a link, a live socket and a directory others may write; replaces a dead socket",
          arguments: Runner.all)
    func publishRefusals(runner: Runner) throws {
        let dir = try Self.directory(for: runner, "publish-refusals")
        defer { dir.remove() }
        let path = dir.path + "/llm.sock"
        func publish() throws -> Runner.Result {
            try runner.run(["--profile", "strict", "-p", "unix:\(path):7070", "/bin/true"], within: 30)
        }
        let target = dir.path + "/target"
        _ = FileManager.default.createFile(atPath: target, contents: Data("keep".utf8))
        chown(target, runner.callerUid, runner.callerUid)

        // A regular file.
        _ = FileManager.default.createFile(atPath: path, contents: Data("file".utf8))
        let file = try publish()
        #expect(file.status == 125)
        #expect(file.stderr.contains("not a socket"), "\(file.stderr)")
        #expect((try? String(contentsOfFile: path, encoding: .utf8)) == "file")
        unlink(path)

        // A symbolic link (to a file, and to a directory): never followed, never replaced.
        for destination in [target, dir.path] {
            #expect(symlink(destination, path) == 0)
            let link = try publish()
            #expect(link.status == 125)
            #expect(link.stderr.contains("symbolic link"), "\(link.stderr)")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) == destination)
            unlink(path)
        }
        #expect((try? String(contentsOfFile: target, encoding: .utf8)) == "keep")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["target"])

        // A live socket: someone listens there.
        let python = try Self.python()
        let live = try BackgroundProcess([python, "-c", Self.echoScript, path], name: "live listener")
        try live.waitForLine("ready")
        chown(path, runner.callerUid, runner.callerUid)
        let busy = try publish()
        #expect(busy.status == 125)
        #expect(busy.stderr.contains("listening on that socket"), "\(busy.stderr)")
        live.terminate()

        // The same socket, now dead (its listener was killed): replaced, and removed at exit.
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK)
        let stale = try publish()
        #expect(stale.status == 0, "\(stale.stderr)")
        #expect(lstat(path, &info) != 0)

        // A directory others may write, not sticky: they could swap the name.
        chmod(dir.path, 0o777)
        let open = try publish()
        chmod(dir.path, 0o700)
        #expect(open.status == 125)
        #expect(open.stderr.contains("others may write"), "\(open.stderr)")
        // A missing directory is never created.
        let missing = try runner.run(["--profile", "strict", "-p", "unix:\(dir.path)/absent/llm.sock:7070", "/bin/true"],
                                     within: 30)
        #expect(missing.status == 125)
        #expect(missing.stderr.contains("lpa-run makes no directories"), "\(missing.stderr)")
    }

    // MARK: a real server

    @Test("llama-server under strict answers through -p unix: (health and a completion); the socket is gone after",
          arguments: Runner.all)
    func llamaServerThroughAUnixSocket(runner: Runner) throws {
        let llama = try Llama.get()
        let dir = try Self.directory(for: runner, "llama")
        defer { dir.remove() }
        let path = dir.path + "/llama.sock"
        let lpaRun = try BackgroundProcess(runner: runner, arguments: [
            "--profile", "strict", "--model", llama.model, "-p", "unix:\(path):8080",
            llama.server, "--model", llama.model, "--host", "127.0.0.1", "--port", "8080"])
        defer { lpaRun.terminate() }
        func http(_ request: String) throws -> String {
            String(decoding: try Self.exchange(path, Array(request.utf8), halfClose: false), as: UTF8.self)
        }
        var health = ""
        try Deadline(seconds: 180).poll(for: "llama-server to answer /health on \(path); \(lpaRun.stderr.suffix(600))") {
            guard lpaRun.isRunning else { throw TestFailure("lpa-run exited: \(lpaRun.stderr.suffix(800))") }
            health = (try? http("GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")) ?? ""
            return health.hasPrefix("HTTP/1.1 200")
        }
        #expect(health.contains("ok"))
        let body = #"{"prompt":"hello","n_predict":4,"temperature":0}"#
        let completion = try http("POST /completion HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                                  + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
        #expect(completion.hasPrefix("HTTP/1.1 200"), "\(completion.prefix(300))")
        #expect(completion.contains("\"tokens_predicted\":"), "\(completion.prefix(600))")
        kill(lpaRun.pid, SIGTERM)
        #expect(try lpaRun.waitForExit("after SIGTERM", within: 30) == 0, "\(lpaRun.stderr.suffix(800))")
        #expect(!lpaRun.stderr.contains("blocked"), "\(lpaRun.stderr.suffix(800))")
        #expect(access(path, F_OK) != 0, "the socket is left behind")
    }
}
