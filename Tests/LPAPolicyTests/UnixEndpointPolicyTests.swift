import Testing
@testable import LPAPolicy

/// Unix-socket endpoints in the language and the plan: `unix:HOST_PATH[:SANDBOX_PATH]`
/// for connect, `unix:HOST_PATH:SANDBOX_PORT` for publish, on the command line and in
/// profiles; the sandbox-side path must lie on a tmpfs of the sandbox, and no host
/// socket may lie where the sandbox can write.
@Suite struct UnixEndpointPolicyTests {
    @Test func connectParsesHostAndOptionalSandboxPath() throws {
        #expect(try EndpointParser.connectSocket("unix:/run/user/1000/llm.sock")
                == SocketEndpoint(hostPath: "/run/user/1000/llm.sock", sandboxPath: "/run/user/1000/llm.sock"))
        #expect(try EndpointParser.connectSocket("unix:/var/run/docker.sock:/run/docker.sock")
                == SocketEndpoint(hostPath: "/var/run/docker.sock", sandboxPath: "/run/docker.sock"))
        // A ':' not followed by '/' belongs to the host path.
        #expect(try EndpointParser.connectSocket("unix:/tmp/a:b.sock:/run/x.sock").hostPath == "/tmp/a:b.sock")
        #expect(try EndpointParser.connectSocket("unix:/tmp//a/./b.sock").hostPath == "/tmp/a/b.sock")
        #expect(try EndpointParser.connectSpec("127.0.0.1:9000") == .port(HostEndpoint(hostAddress: "127.0.0.1", hostPort: 9000, sandboxPort: 9000)))
    }

    @Test func publishParsesHostPathAndPort() throws {
        #expect(try EndpointParser.publishSocket("unix:/run/user/1000/llm.sock:8080")
                == PublishedSocket(hostPath: "/run/user/1000/llm.sock", sandboxPort: 8080))
        #expect(try EndpointParser.publishSpec("8080:80") == .port(PublishedPort(hostAddress: "127.0.0.1", hostPort: 8080, sandboxPort: 80)))
    }

    @Test func badUnixEndpointsAreClearErrors() {
        for (text, fragment) in [("unix:relative.sock", "not absolute"), ("unix:/a/../b.sock", "'..'"),
                                 ("unix:/", "'/' is a directory"),
                                 ("unix:/tmp/x.sock:" + "/run/" + String(repeating: "n", count: 120), "longer than 107 bytes")] {
            #expect(throws: EndpointParser.Failure.self) { try EndpointParser.connectSocket(text) }
            do { _ = try EndpointParser.connectSocket(text) } catch { #expect(error.message.contains(fragment), "\(error.message)") }
        }
        for text in ["unix:/tmp/x.sock", "unix:/tmp/x.sock:0", "unix:/tmp/x.sock:http", "unix:x.sock:80"] {
            #expect(throws: EndpointParser.Failure.self, "\(text)") { try EndpointParser.publishSocket(text) }
        }
    }

    @Test func commandLineAndProfileEntriesReachThePlan() throws {
        let plan = try Fixture.compile("""
            extends: strict
            network:
              publish: ["unix:/srv/sockets/llm.sock:8080", "8081:80"]
              connect: ["unix:/srv/sockets/tool.sock:/run/tool.sock"]
            """, overrides: CommandLineOverrides(publish: ["unix:/srv/sockets/b.sock:9090"],
                                                 connect: ["unix:/srv/sockets/c.sock:/tmp/c.sock"]))
        #expect(plan.network.publishSockets.map(\.hostPath) == ["/srv/sockets/llm.sock", "/srv/sockets/b.sock"])
        #expect(plan.network.publishSockets.map(\.sandboxPort) == [8080, 9090])
        #expect(plan.network.publishSockets.first?.origin?.line == 3)
        #expect(plan.network.publish.map(\.hostPort) == [8081])
        #expect(plan.network.connectSockets == [
            SocketEndpoint(hostPath: "/srv/sockets/tool.sock", sandboxPath: "/run/tool.sock", origin: plan.network.connectSockets[0].origin),
            SocketEndpoint(hostPath: "/srv/sockets/c.sock", sandboxPath: "/tmp/c.sock"),
        ])
        // Nothing of the host path is bound: no mount names /srv.
        #expect(!plan.mounts.contains { ($0.source ?? "").hasPrefix("/srv") || $0.target.hasPrefix("/srv") })

        let text = PlanFormatter.text(plan)
        #expect(text.contains("publish         unix:/srv/sockets/llm.sock (created 0600, removed at exit) -> sandbox :8080"), "\(text)")
        #expect(text.contains("connect         sandbox unix:/run/tool.sock -> unix:/srv/sockets/tool.sock (relayed, not bound)"))
        let json = PlanFormatter.json(plan)
        #expect(json.contains("\"publishSockets\""))
        #expect(json.contains("\"sandboxPath\" : \"/run/tool.sock\""))
        // Plans without unix sockets read as before (the goldens have no such keys).
        #expect(!PlanFormatter.json(try Fixture.compile("extends: strict\n")).contains("Sockets"))
    }

    /// As for TCP endpoints: merging keeps the first entry for one sandbox socket.
    @Test func mergingKeepsOneEntryPerSandboxSocket() throws {
        let compiler = Fixture.compiler([
            "parent.yaml": "extends: strict\nnetwork:\n  connect: [\"unix:/srv/a.sock:/run/a.sock\"]\n",
            "child.yaml": "extends: parent.yaml\nnetwork:\n  connect: [\"unix:/srv/b.sock:/run/a.sock\"]\n",
        ])
        let plan = try compiler.compile(profile: "child.yaml", command: Fixture.command, overrides: .init()).plan
        #expect(plan.network.connectSockets.map(\.hostPath) == ["/srv/a.sock"])
    }

    @Test func theSandboxPathMustLieOnATmpfs() {
        // /usr is a read-only bind of the host in strict; the default sandbox path of a
        // host socket under /srv lies on the root, which is no tmpfs either.
        for connect in ["unix:/srv/a.sock:/usr/a.sock", "unix:/srv/a.sock"] {
            let messages = Fixture.messages("extends: strict\n", overrides: CommandLineOverrides(connect: [connect]))
            #expect(messages.contains { $0.contains("does not lie on a tmpfs") }, "\(connect): \(messages)")
        }
        for connect in ["unix:/srv/a.sock:/run/a.sock", "unix:/srv/a.sock:/tmp/x/y/a.sock", "unix:/srv/a.sock:/home/user/a.sock"] {
            #expect(Fixture.messages("extends: strict\n", overrides: CommandLineOverrides(connect: [connect])) == [], "\(connect)")
        }
    }

    @Test func noHostSocketInsideAReadWriteBind() {
        let profile = "extends: strict\nfilesystem:\n  read-write: [/srv/project]\n"
        let connect = Fixture.messages(profile, overrides: CommandLineOverrides(connect: ["unix:/srv/project/s.sock:/run/s.sock"]))
        #expect(connect.contains { $0.contains("lies inside the read-write bind /srv/project") }, "\(connect)")
        let publish = Fixture.messages(profile, overrides: CommandLineOverrides(publish: ["unix:/srv/project/s.sock:80"]))
        #expect(publish.contains { $0.contains("lies inside the read-write bind /srv/project") }, "\(publish)")
        #expect(Fixture.messages(profile, overrides: CommandLineOverrides(publish: ["unix:/srv/other/s.sock:80"])) == [])
    }

    @Test func duplicatesAndHostModeAreRefused() {
        let twice = Fixture.messages("extends: strict\n", overrides: CommandLineOverrides(
            publish: ["unix:/srv/a.sock:80", "unix:/srv/a.sock:81"],
            connect: ["unix:/srv/b.sock:/run/b.sock", "unix:/srv/c.sock:/run/b.sock"]))
        #expect(twice.contains("host socket /srv/a.sock is published twice"), "\(twice)")
        #expect(twice.contains("sandbox socket /run/b.sock is used by two connect entries"), "\(twice)")
        let host = Fixture.messages("extends: strict\nnamespaces: [user, mount, pid, ipc, uts]\nnetwork:\n  mode: host\n",
                                    overrides: CommandLineOverrides(connect: ["unix:/srv/b.sock:/run/b.sock"]))
        #expect(host.contains { $0.contains("cannot be combined with publish or connect") }, "\(host)")
    }

    /// Where a unix endpoint comes from is not policy: the digest ignores origins.
    @Test func digestIgnoresTheOriginOfSocketEntries() throws {
        let a = try Fixture.compile("extends: strict\nnetwork:\n  connect: [\"unix:/srv/a.sock:/run/a.sock\"]\n")
        let b = try Fixture.compile("extends: strict\n\n\nnetwork:\n  connect: [\"unix:/srv/a.sock:/run/a.sock\"]\n")
        #expect(PlanDigest.digest(of: a) == PlanDigest.digest(of: b))
        let c = try Fixture.compile("extends: strict\nnetwork:\n  connect: [\"unix:/srv/b.sock:/run/a.sock\"]\n")
        #expect(PlanDigest.digest(of: a) != PlanDigest.digest(of: c))
    }
}
