import Foundation
import Testing

/// The DNS sink (`network: dns: sink`, the default with mode none): a resolver of the
/// sandbox's own on 127.0.0.1:53 that answers NXDOMAIN at once and names each lookup in
/// the audit log and the exit report. Real sandboxes, real resolvers (glibc through
/// Python's getaddrinfo, raw UDP and TCP queries), the real llama-server.
@Suite("DNS sink", .serialized)
struct DNSSinkTests {
    /// A raw query for NAME of TYPE (id 0x4242), with Python's struct.
    static let pythonQuery = """
        import socket, struct, sys, time
        def query(name, qtype=1, ident=0x4242):
            wire = b"".join(bytes([len(l)]) + l for l in name.split(b".") if l) + b"\\0"
            return struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + wire + struct.pack(">HH", qtype, 1)
        def udp(message, wait=2.0):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(wait)
            s.sendto(message, ("127.0.0.1", 53))
            try:
                return s.recv(2048)
            except socket.timeout:
                return None
            finally:
                s.close()
        def rcode(answer):
            return None if answer is None else answer[3] & 15

        """

    static func outputs(_ runner: Runner, _ name: String) throws -> (log: String, report: String) {
        let dir = try AuditTests.outputDirectory(for: runner, "dns-" + name)
        return (dir + "/audit.jsonl", dir + "/report.json")
    }

    static func logEntries(_ path: String) throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\($0)")
        }
    }

    @Test("under strict, getaddrinfo of a name fails at once with EAI_NONAME, is logged and reported; localhost resolves",
          arguments: Runner.all)
    func lookupFailsAtOnceAndIsRecorded(runner: Runner) throws {
        let (log, reportPath) = try Self.outputs(runner, "lookup")
        let script = """
            import socket, time
            start = time.monotonic()
            try:
                socket.getaddrinfo("api.openai.com", 443)
                print("lookup resolved")
            except socket.gaierror as e:
                print("lookup", "EAI_NONAME" if e.errno == socket.EAI_NONAME else "errno-%d" % e.errno)
            print("seconds %.4f" % (time.monotonic() - start))
            print("localhost", socket.getaddrinfo("localhost", 80, socket.AF_INET)[0][4][0])
            """
        let result = try runner.run(["--profile", "strict", "--audit-log", log, "--report-json", reportPath,
                                     "/usr/bin/python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.fields["lookup"] == "EAI_NONAME", "\(result.stdout)")
        let seconds = Double(result.fields["seconds"] ?? "") ?? 99
        #expect(seconds < 0.5, "the lookup took \(seconds) s")
        #expect(result.fields["localhost"] == "127.0.0.1", "/etc/hosts must still answer: \(result.stdout)")

        let entries = try Self.logEntries(log).filter { $0["kind"] as? String == "dns" }
        #expect(entries.contains { $0["name"] as? String == "api.openai.com" && $0["type"] as? String == "A"
            && $0["action"] as? String == "blocked" }, "\(entries)")
        #expect(!entries.contains { $0["name"] as? String == "localhost" }, "localhost came from /etc/hosts")
        #expect(result.stderr.contains("tried to resolve: api.openai.com ×"), "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: reportPath))) as? [String: Any])
        let names = try #require(report["tried_to_resolve"] as? [[String: Any]], "\(report)")
        #expect(names.first?["name"] as? String == "api.openai.com")
        #expect((names.first?["count"] as? Int ?? 0) >= 1)
    }

    @Test("TCP queries are answered, also in pieces; malformed packets get no crash and the next query is answered",
          arguments: Runner.all)
    func tcpAndHostilePackets(runner: Runner) throws {
        let (log, reportPath) = try Self.outputs(runner, "hostile")
        let script = Self.pythonQuery + """
            header = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
            hostile = {
                "pointer-loop": header + b"\\x03abc\\xc0\\x0c",
                "pointer-self": header + b"\\xc0\\x0c\\x00\\x01\\x00\\x01",
                "label-64": header + b"\\x40" + b"a" * 64 + b"\\x00\\x00\\x01\\x00\\x01",
                "name-over-255": header + (b"\\x3f" + b"b" * 63) * 5 + b"\\x00\\x00\\x01\\x00\\x01",
                "truncated": header + b"\\x10abc",
                "runt": b"\\x01\\x02\\x03",
                "two-questions": struct.pack(">HHHHHH", 7, 0x0100, 2, 0, 0, 0) + b"\\x01a\\x00\\x00\\x01\\x00\\x01",
                "response": struct.pack(">HHHHHH", 7, 0x8180, 1, 0, 0, 0) + b"\\x01a\\x00\\x00\\x01\\x00\\x01",
                "huge": b"\\x00" * 60000,
            }
            for name, message in hostile.items():
                answer = udp(message, wait=0.3)
                print("hostile-" + name, "none" if answer is None else "rcode-%d" % rcode(answer))
            answer = udp(query(b"after.example"))
            print("after-hostile", "rcode-%d" % rcode(answer), "id-ok" if answer[:2] == b"\\x42\\x42" else "id-bad")
            # TCP: the 2-byte length, then the query, sent in three pieces with pauses.
            message = query(b"tcp.example", 28)
            framed = struct.pack(">H", len(message)) + message
            t = socket.create_connection(("127.0.0.1", 53), timeout=5)
            for piece in (framed[:1], framed[1:9], framed[9:]):
                t.sendall(piece)
                time.sleep(0.05)
            length = struct.unpack(">H", t.recv(2))[0]
            body = b""
            while len(body) < length:
                body += t.recv(length - len(body))
            print("tcp", "rcode-%d" % rcode(body), "id-ok" if body[:2] == b"\\x42\\x42" else "id-bad")
            # A second query on the same connection.
            t.sendall(struct.pack(">H", len(message)) + message)
            print("tcp-again", "rcode-%d" % rcode(t.recv(2 + length)[2:]))
            t.close()
            """
        let result = try runner.run(["--profile", "strict", "--audit-log", log, "--report-json", reportPath,
                                     "/usr/bin/python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let fields = result.fields
        // Refused outright (FORMERR), or not answered at all: never followed, never a crash.
        for name in ["pointer-loop", "pointer-self", "label-64", "name-over-255", "truncated", "two-questions"] {
            #expect(fields["hostile-" + name] == "rcode-1", "\(name): \(result.stdout)")
        }
        for name in ["runt", "response", "huge"] {
            #expect(fields["hostile-" + name] == "none", "\(name): \(result.stdout)")
        }
        #expect(fields["after-hostile"] == "rcode-3 id-ok", "\(result.stdout)")
        #expect(fields["tcp"] == "rcode-3 id-ok", "\(result.stdout)")
        #expect(fields["tcp-again"] == "rcode-3", "\(result.stdout)")
        let entries = try Self.logEntries(log).filter { $0["kind"] as? String == "dns" }
        #expect(entries.contains { $0["name"] as? String == "tcp.example" && $0["type"] as? String == "AAAA"
            && $0["transport"] as? String == "tcp" }, "\(entries)")
        let report = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: reportPath))) as? [String: Any])
        let sink = try #require(report["dns_sink"] as? [String: Any], "\(report)")
        #expect((sink["malformed"] as? Int ?? 0) >= 8, "\(sink)")
    }

    @Test("many TCP clients are capped, silent ones time out, a flood of distinct names keeps bounded memory and the sink answers",
          arguments: Runner.all)
    func floodsAreBounded(runner: Runner) throws {
        let (log, reportPath) = try Self.outputs(runner, "flood")
        let script = Self.pythonQuery + """
            clients = [socket.create_connection(("127.0.0.1", 53), timeout=5) for _ in range(48)]
            time.sleep(0.3)
            closed = 0
            for c in clients:
                c.setblocking(False)
                try:
                    if c.recv(1) == b"":
                        closed += 1
                except BlockingIOError:
                    pass
            print("closed-at-once", closed)
            time.sleep(2.6)
            timed_out = 0
            for c in clients:
                try:
                    if c.recv(1) == b"":
                        timed_out += 1
                except (BlockingIOError, ConnectionResetError):
                    pass
            print("closed-after-timeout", timed_out)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            sent = 0
            for i in range(20000):
                try:
                    s.sendto(query(b"n%d.flood.example" % i), ("127.0.0.1", 53))
                    sent += 1
                except BlockingIOError:
                    pass
            # The flood fills the sink's receive queue and the kernel drops what does
            # not fit (a real resolver retries too): the sink must answer a retry.
            answer = None
            for attempt in range(8):
                answer = udp(query(b"after-flood.example"), wait=1.5)
                if answer is not None:
                    break
            print("after-flood", "rcode-%s" % rcode(answer))
            """
        let result = try runner.run(["--profile", "strict", "--audit-log", log, "--report-json", reportPath,
                                     "/usr/bin/python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.fields["closed-at-once"] == "16", "48 clients over a cap of 32: \(result.stdout)")
        #expect(result.fields["closed-after-timeout"] == "48", "\(result.stdout)")
        #expect(result.fields["after-flood"] == "rcode-3", "\(result.stdout)")
        let report = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: reportPath))) as? [String: Any])
        let names = try #require(report["tried_to_resolve"] as? [[String: Any]])
        #expect(names.count == 256, "distinct names kept are capped")
        #expect((report["tried_to_resolve_others"] as? Int ?? 0) > 0)
        let sink = try #require(report["dns_sink"] as? [String: Any])
        #expect(sink["tcp_refused"] as? Int == 16 && sink["tcp_timed_out"] as? Int == 32, "\(sink)")
        #expect(result.stderr.contains("more lookups"), "\(result.stderr)")
        // The log is rate-limited: at most 100 lines a second, the rest counted.
        let entries = try Self.logEntries(log)
        #expect(entries.contains { $0["action"] as? String == "suppressed" && $0["kind"] as? String == "dns" })
    }

    /// With no descriptor left to accept with, the sink's listener leaves the event loop
    /// until one is free again; it used to stay readable and spin lpa-run at a whole CPU
    /// for as long as the clients held on (red team). The CPU of lpa-run and the sandbox
    /// together over two seconds of 30 held connections: a spin is ~2 s, idle ~0.1 s.
    @Test("TCP clients that take lpa-run's last descriptors do not spin its loop", arguments: Runner.all)
    func exhaustedDescriptorsDoNotSpin(runner: Runner) throws {
        let script = "import socket,time; s=[socket.create_connection((\"127.0.0.1\", 53)) for _ in range(30)]; time.sleep(2)"
        let measure = "import resource,subprocess,sys; r=subprocess.run(sys.argv[1:]).returncode; "
            + "u=resource.getrusage(resource.RUSAGE_CHILDREN); print('cpu', u.ru_utime+u.ru_stime, file=sys.stderr); sys.exit(r)"
        let argv = ["/usr/bin/python3", "-c", measure, "/usr/bin/prlimit", "--nofile=40:40"]
            + runner.command(["--profile", "strict", "/usr/bin/python3", "-c", script])
        let child = try Spawned(argv, environment: runner.environment(), cwd: Binaries.shared.directory)
        let (status, _, stderr) = child.finish(seconds: 120)
        #expect(status == 0, "\(stderr)")
        let cpu = stderr.split(separator: "\n").first { $0.hasPrefix("cpu ") }.flatMap { Double($0.dropFirst(4)) }
        #expect(try #require(cpu, "\(stderr)") < 1.0, "lpa-run spun while the clients held its descriptors: \(stderr)")
    }

    @Test("a name with control characters and ANSI escapes is escaped in the report and the log", arguments: Runner.all)
    func hostileNameIsEscaped(runner: Runner) throws {
        let (log, reportPath) = try Self.outputs(runner, "escape")
        let script = Self.pythonQuery + """
            answer = udp(query(b"\\x1b[31mred\\x07.x\\x0ay.example"))
            print("answer", "rcode-%d" % rcode(answer))
            """
        let result = try runner.run(["--profile", "strict", "--audit-log", log, "--report-json", reportPath,
                                     "/usr/bin/python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.fields["answer"] == "rcode-3", "\(result.stdout)")
        #expect(!result.stderr.contains("\u{1b}") && !result.stderr.contains("\u{07}"), "\(result.stderr.debugDescription)")
        #expect(result.stderr.contains("tried to resolve: \\027[31mred\\007.x\\010y.example"), "\(result.stderr)")
        let raw = try String(contentsOfFile: log, encoding: .utf8)
        #expect(raw.utf8.allSatisfy { $0 == 0x0a || ($0 >= 0x20 && $0 < 0x7f) }, "\(raw.debugDescription)")
        let entries = try Self.logEntries(log).filter { $0["kind"] as? String == "dns" }
        #expect(entries.first?["name"] as? String == "\\027[31mred\\007.x\\010y.example", "\(entries)")
        let report = try String(contentsOfFile: reportPath, encoding: .utf8)
        #expect(!report.contains("\u{1b}"))
    }

    /// Red team: the sink's sockets had SO_REUSEADDR, so a workload that keeps
    /// CAP_NET_BIND_SERVICE could bind UDP 127.0.0.1:53 beside it and take the other
    /// processes' queries, unlogged. Now no second socket binds the sink's address.
    @Test("a workload with net_bind_service cannot bind the sink's port beside it", arguments: Runner.all)
    func sinkPortCannotBeShared(runner: Runner) throws {
        let profile = Binaries.shared.profile(named: "dns-nbs-\(runner.who.rawValue)", """
            extends: builtin:strict
            capabilities: [net_bind_service]
            """)
        let script = """
            import socket
            for name, typ in (("udp", socket.SOCK_DGRAM), ("tcp", socket.SOCK_STREAM)):
                s = socket.socket(socket.AF_INET, typ)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", 53))
                    print(name, "bound")
                except OSError as e:
                    print(name, "errno-%d" % e.errno)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind(("127.0.0.1", 853))
                print("other", "bound")
            except OSError as e:
                print("other", "errno-%d" % e.errno)
            """
        let result = try runner.run(["--profile", profile, "/usr/bin/python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        // The capability is real (another privileged port binds), the sink's is taken.
        #expect(result.fields["other"] == "bound", "\(result.stdout)")
        #expect(result.fields["udp"] == "errno-\(EADDRINUSE)", "\(result.stdout)")
        #expect(result.fields["tcp"] == "errno-\(EADDRINUSE)", "\(result.stdout)")
    }

    @Test("with `dns: host` there is no sink: the host's resolv.conf, no dns records", arguments: Runner.all)
    func sinkOff(runner: Runner) throws {
        let (log, reportPath) = try Self.outputs(runner, "off")
        let profile = Binaries.shared.profile(named: "dns-host-\(runner.who.rawValue)", """
            extends: builtin:strict
            network:
              dns: host
            """)
        let host = try String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)
        let script = """
            import socket, sys
            print("same-resolv-conf", open("/etc/resolv.conf").read() == sys.argv[1])
            try:
                socket.getaddrinfo("api.openai.com", 443)
                print("lookup resolved")
            except socket.gaierror as e:
                print("lookup failed")
            """
        let result = try runner.run(["--profile", profile, "--audit-log", log, "--report-json", reportPath,
                                     "/usr/bin/python3", "-c", script, host])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.fields["same-resolv-conf"] == "True", "\(result.stdout)")
        #expect(result.fields["lookup"] == "failed", "\(result.stdout)")
        #expect(try Self.logEntries(log).allSatisfy { $0["kind"] as? String != "dns" })
        #expect(!result.stderr.contains("tried to resolve"))
        let report = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: reportPath))) as? [String: Any])
        #expect(report["dns_sink"] is NSNull, "\(report)")
    }

    /// The real llama-server resolves a name when asked to download a model (`-mu`; this
    /// build has no TLS, so an http:// URL): the report names the host it wanted.
    @Test("the real llama-server's model download shows huggingface.co in the report", arguments: Runner.all)
    func llamaServerDownloadIsNamed(runner: Runner) throws {
        let server = try Llama.get().server
        let (log, reportPath) = try Self.outputs(runner, "llama")
        let result = try runner.run(["--profile", "strict", "--audit-log", log, "--report-json", reportPath,
                                     server, "-m", "/tmp/model.gguf",
                                     "-mu", "http://huggingface.co/ggml-org/models/resolve/main/tiny.gguf"],
                                    seconds: 60)
        #expect(result.status != 0, "the download cannot succeed: \(result.stderr)")
        #expect(result.stderr.contains("tried to resolve: huggingface.co"), "\(result.stderr)")
        let entries = try Self.logEntries(log).filter { $0["kind"] as? String == "dns" }
        #expect(entries.contains { $0["name"] as? String == "huggingface.co" }, "\(entries)")
    }
}
